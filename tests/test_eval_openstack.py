"""A small slice of the OpenStack template-sequence experiment (full run: benchmarks/eval_openstack.py)."""

from __future__ import annotations

import eval_openstack
import pytest

from logwatch.core.sessions import SessionKeyer

pytestmark = pytest.mark.skipif(not eval_openstack.DATA.exists(),
                                reason="needs ../shared/data: the research data beside the repository is not here")


@pytest.mark.parametrize("loader", [eval_openstack.load_loghub, eval_openstack.load_graphlog])
def test_sessions_render_as_template_lines_keyed_by_their_instance(loader) -> None:
    sessions, train0, normal, anomalous = loader()
    assert normal and anomalous and not (set(normal) & set(anomalous))
    keyer = SessionKeyer(None)
    for key in (normal[0], anomalous[-1], *train0[:1]):
        lines = sessions[key]
        assert len(lines) > 5
        # logwatch's built-in rule keys every line to the session it came from
        assert {keyer.key(line, "x") for line in lines} == {key}
        assert all(line.startswith(f"[instance: {key}] ") for line in lines)



def test_split_trains_and_calibrates_on_normal_sessions_only() -> None:
    _sessions, train0, normal, anomalous = eval_openstack.load_loghub()
    train, cal, test = eval_openstack.split(train0, normal, anomalous)
    assert not (set(train) & set(cal)) and not (set(cal) & set(test)) and not (set(train) & set(test))
    assert not (set(anomalous) & (set(train) | set(cal)))
    assert set(anomalous) <= set(test)
    labels = {s: s in set(anomalous) for s in test}
    subset = eval_openstack.study_subset(test, labels)
    assert sum(labels[s] for s in subset) == 169 and sum(not labels[s] for s in subset) == 44


def test_small_run_reports_model_baselines_and_the_studys_reference() -> None:
    result = eval_openstack.run_dataset("loghub", epochs=1, max_fpr=0.05, small=True, limit=150)
    study = result["study_composition"]
    assert study["study_reported_f1"] == eval_openstack.STUDY_F1
    for report in (result["test"], study):
        assert {"precision", "recall", "f1", "fpr", "auroc"} <= set(report)
        assert report["flag_all"]["fpr"] == 1.0 and report["flag_all"]["recall"] == 1.0
        assert {"unseen_template", "count_vector_knn", "pca"} <= set(report["baselines"])
    assert result["split"]["test_anomalous"] == 30
