"""One reader of Bambi's parameter names, checked against Bambi's own lists of a
model's common and group-specific terms."""

import numpy as np
import pandas as pd

from replication_ladder.models.parameter_names import parse


def test_names_are_read_as_bambi_lists_its_terms():
    import bambi as bmb

    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        {
            "value": rng.normal(size=60),
            "condition": np.tile([0, 1], 30),
            "stimulus": pd.Categorical(np.repeat(list("abc"), 20)),
            "study": pd.Categorical(np.tile(list("xyz"), 20)),
        }
    )
    model = bmb.Model("value ~ condition + C(stimulus) + (condition|study)", data)
    model.build()
    component = model.parameters[model.family.likelihood.parent]
    for term in component.common_terms:
        assert parse(term).group is None and parse(f"{term}[b]").variable == term
    for term in component.group_specific_terms:
        name = parse(term)
        assert name.group == "study" and name.group_level and not name.one_level
        assert parse(f"{term}[y]").one_level and parse(f"{term}[y]").variable == term
        assert parse(f"{term}_sigma").suffix == "sigma"
        assert parse(f"{term}_sigma").variable == f"{term}_sigma"
        assert not parse(f"{term}_sigma").group_level
    offsets = [rv.name for rv in model.backend.model.free_RVs if rv.name.endswith("_offset")]
    assert offsets and all(parse(name).suffix == "offset" for name in offsets)
    assert parse("sigma").group is None and parse("nu_sigma").suffix is None
