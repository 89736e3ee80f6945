"""Config of IFD scorers and methods: defaults, and cross-references named by key path."""


import pytest
import yaml

from tests.support import ROOT
from workflow_lib.config.validate import validate_config
from workflow_lib.core.errors import ConfigError


@pytest.fixture
def demo_config() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_scorer_and_method_defaults(demo_config):
    demo_config["methods"]["sfd"] = {"kind": "superfiltering_d", "scorer": "smollm2-superfiltering"}
    validate_config(demo_config)
    assert demo_config["scorers"]["smollm2-cherry"] == {
        "model": "smollm2-135m", "preset": "cherry", "max_length": None, "mode": "fast",
        "dtype": "float32", "batch_size": 16, "max_tokens_per_batch": 8192, "max_padding": 0.1,
        "chunk_size": 512}
    assert demo_config["methods"]["cherry"]["threshold"] == 1.0
    assert demo_config["methods"]["sfd"]["ifd_num"] == 0.2
    assert demo_config["scoring"]["shards"] == 2


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda c: c["scorers"]["smollm2-cherry"].update(model="gpt9"),
     "scorers.smollm2-cherry.model: 'gpt9' is not defined in models"),
    (lambda c: c["methods"]["cherry"].update(scorer="nope"),
     "methods.cherry.scorer: 'nope' is not defined in scorers"),
    (lambda c: c["methods"]["cherry"].update(scorer="smollm2-superfiltering"),
     "methods.cherry.scorer: cherry needs a scorer with preset 'cherry'"),
    (lambda c: c["scorers"]["smollm2-cherry"].update(preset="ifd"),
     "scorers.smollm2-cherry.preset:"),
    (lambda c: c["scorers"]["smollm2-cherry"].update(mode="quick"),
     "scorers.smollm2-cherry.mode:"),
    (lambda c: c["methods"].update(sfd={"kind": "superfiltering_d", "scorer": "x", "ifd_num": 0}),
     "methods.sfd.ifd_num:"),
    (lambda c: c["methods"]["superfiltering"].pop("scorer"), "methods.superfiltering:"),
    (lambda c: c["scoring"].update(shards=0), "scoring.shards:"),
    # IterIT's epoch-0 scores are results/scores/{pool}/iterit-{model}.parquet: a scorer named
    # iterit-smollm2-135m would write the same file.
    (lambda c: c["scorers"].update({"iterit-smollm2-135m": c["scorers"]["smollm2-cherry"]}),
     "scorers.iterit-smollm2-135m: names starting with 'iterit-' are reserved"),
])
def test_invalid_ifd_configs_name_the_key(demo_config, mutate, expected):
    mutate(demo_config)
    with pytest.raises(ConfigError) as err:
        validate_config(demo_config)
    assert expected in str(err.value)
