"""Documentation fields: every one the schema has is left out of rule params, and only those."""

from workflow_lib.config.params import DOC_FIELDS, without_docs
from workflow_lib.config.validate import load_schema, validate_config


def doc_properties(node: object) -> set[str]:
    """Names of the properties anywhere in `node` whose schema is `$defs/description`."""
    found = set()
    if isinstance(node, dict):
        found |= {name for name, sub in node.get("properties", {}).items()
                  if isinstance(sub, dict) and sub.get("$ref") == "#/$defs/description"}
        node = list(node.values())
    for item in node if isinstance(node, list) else ():
        found |= doc_properties(item)
    return found


def test_doc_fields_are_the_schemas_documentation_properties():
    schema = load_schema()
    assert doc_properties(schema) == DOC_FIELDS
    for entry in ("pool", "model", "corpus", "method"):
        assert set(schema["$defs"][entry]["properties"]) >= DOC_FIELDS, entry


def test_without_docs_keeps_every_other_key_in_order():
    entry = {"kind": "zip", "description": "the paper's", "k1": 300, "k3": 20}
    assert without_docs(entry) == {"kind": "zip", "k1": 300, "k3": 20}
    assert list(without_docs(entry)) == ["kind", "k1", "k3"]
    assert entry["description"] == "the paper's"  # the config itself keeps it


def test_every_method_kind_accepts_a_description():
    config = {"pools": {"p": {"source": {"kind": "demo"}, "description": "a pool"}},
              "methods": {"z": {"kind": "zip", "description": "ZIP at the paper's k's"},
                          "r": {"kind": "random", "description": "the baseline"}},
              "experiments": [{"pools": ["p"], "methods": ["z", "r"], "budgets": [10]}]}
    validate_config(config)
    assert config["methods"]["z"]["description"] == "ZIP at the paper's k's"
