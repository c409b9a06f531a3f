"""The shared versioned registry: names and aliases resolve, unknown names list the choices, old names stay."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.errors import ConfigurationError, UnknownBackendError
from core.registry import VersionedRegistry, import_object, normalize_name


@dataclass(frozen=True)
class Part:
    label: str


def fruit_registry(**options) -> VersionedRegistry[Part]:
    registry: VersionedRegistry[Part] = VersionedRegistry("fruit", **options)
    registry.register("fruit.apple.v1", Part("apple one"), aliases=("apple",))
    registry.register("fruit.apple.v2", Part("apple two"), aliases=("apple2", "new_apple"))
    registry.register("fruit.kiwi.v1", Part("kiwi"))
    return registry


# --- resolving ----------------------------------------------------------------------------------


def test_versioned_names_and_aliases_resolve_in_any_case_with_dashes_or_spaces():
    fruits = fruit_registry()
    assert fruits.resolve("apple") == "fruit.apple.v1"
    assert fruits.resolve("  APPLE ") == "fruit.apple.v1"
    assert fruits.resolve("New-Apple") == "fruit.apple.v2"
    assert fruits.resolve("fruit.kiwi.v1") == "fruit.kiwi.v1"
    assert fruits.resolve("FRUIT.APPLE.V2") == "fruit.apple.v2"
    assert fruits.get("apple2") == Part("apple two")
    assert fruits.get("fruit.apple.v1") == Part("apple one")


def test_normalize_name_folds_case_space_and_dashes_and_turns_non_strings_into_nothing():
    assert normalize_name(" Item-KNN ") == "item_knn"
    assert normalize_name(None) == ""
    assert normalize_name(5) == ""


def test_listing_is_sorted_and_includes_every_alias():
    fruits = fruit_registry()
    assert fruits.names() == ["fruit.apple.v1", "fruit.apple.v2", "fruit.kiwi.v1"]
    assert list(fruits) == fruits.names() and len(fruits) == 3
    assert fruits.aliases() == {"apple": "fruit.apple.v1", "apple2": "fruit.apple.v2", "new_apple": "fruit.apple.v2"}
    assert fruits.aliases_of("new-apple") == ("apple2", "new_apple")
    assert fruits.aliases_of("fruit.kiwi.v1") == ()


def test_contains_is_for_exact_versioned_names_only():
    fruits = fruit_registry()
    assert "fruit.apple.v1" in fruits
    assert "apple" not in fruits and "FRUIT.APPLE.V1" not in fruits and None not in fruits


# --- unknown names ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pear", "", None, 5, "fruit.apple.v3"])
def test_unknown_name_is_a_configuration_error_listing_aliases_and_names(name):
    with pytest.raises(ConfigurationError) as caught:
        fruit_registry().resolve(name)
    assert str(caught.value) == (
        f"[E001] Unknown fruit {name!r}; choose one of: apple (fruit.apple.v1), apple2 (fruit.apple.v2), "
        "new_apple (fruit.apple.v2), fruit.kiwi.v1."
    )


def test_the_message_can_list_aliases_or_names_with_its_own_wording_hint_and_error():
    aliases = fruit_registry(listing="aliases", choose="choose from", hint=" (or plant one)", error=UnknownBackendError)
    with pytest.raises(UnknownBackendError, match=r"^\[E002\] Unknown fruit 'pear'; choose from: apple, apple2, "):
        aliases.get("pear")
    assert aliases.choices() == "apple, apple2, new_apple, fruit.kiwi.v1"
    assert str(aliases.unknown("pear")).endswith("new_apple, fruit.kiwi.v1 (or plant one).")
    names = fruit_registry(listing="names")
    assert names.choices() == "fruit.apple.v1, fruit.apple.v2, fruit.kiwi.v1"


# --- registering --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "aliases"),
    [("fruit.apple.v1", ()), ("fruit.pear.v1", ("apple",)), ("apple", ()), ("fruit.pear.v1", ("fruit.kiwi.v1",))],
)
def test_a_taken_name_or_alias_is_refused(name, aliases):
    fruits = fruit_registry()
    with pytest.raises(ConfigurationError, match="registered twice"):
        fruits.register(name, Part("again"), aliases=aliases)
    assert fruits.get("apple") == Part("apple one")


@pytest.mark.parametrize("name", ["Fruit.Pear.v1", "fruit-pear", " pear", ""])
def test_names_must_already_be_in_lookup_form(name):
    with pytest.raises(ConfigurationError, match="lookup form"):
        fruit_registry().register(name, Part("pear"))
    with pytest.raises(ConfigurationError, match="lookup form"):
        fruit_registry().register("fruit.pear.v1", Part("pear"), aliases=(name,))


def test_an_alias_listed_twice_is_refused():
    with pytest.raises(ConfigurationError, match="lists an alias twice"):
        fruit_registry().register("fruit.pear.v1", Part("pear"), aliases=("pear", "pear"))


def test_register_returns_the_entry():
    fruits = fruit_registry()
    pear = Part("pear")
    assert fruits.register("fruit.pear.v1", pear, aliases=("pear",)) is pear


# --- includes -----------------------------------------------------------------------------------


def test_a_registry_can_include_others_live():
    fruits = fruit_registry()
    nuts: VersionedRegistry[Part] = VersionedRegistry("nut")
    nuts.register("nut.pecan.v1", Part("pecan"), aliases=("pecan",))
    food: VersionedRegistry[Part] = VersionedRegistry("food", listing="aliases", includes=(fruits, nuts))
    assert food.resolve("Pecan") == "nut.pecan.v1" and food.get("apple") == Part("apple one")
    assert "nut.pecan.v1" in food and "fruit.kiwi.v1" in food
    assert food.names() == ["fruit.apple.v1", "fruit.apple.v2", "fruit.kiwi.v1", "nut.pecan.v1"]
    assert food.aliases_of("pecan") == ("pecan",)
    nuts.register("nut.cashew.v1", Part("cashew"), aliases=("cashew",))  # registered after: still seen
    assert food.resolve("cashew") == "nut.cashew.v1"
    with pytest.raises(ConfigurationError, match="Unknown food 'pear'; choose one of: apple, apple2, cashew"):
        food.resolve("pear")
    with pytest.raises(ConfigurationError, match="registered twice"):
        food.register("fruit.kiwi.v1", Part("kiwi"))


# --- lazy imports -------------------------------------------------------------------------------


def test_import_object_follows_dotted_attributes():
    assert import_object("core.registry:VersionedRegistry.resolve") is VersionedRegistry.resolve
    assert import_object("core.errors:ConfigurationError") is ConfigurationError


@pytest.mark.parametrize("path", ["core.registry", ":VersionedRegistry", "core.registry:"])
def test_import_object_refuses_a_path_without_module_and_attribute(path):
    with pytest.raises(ConfigurationError, match="is not an import path"):
        import_object(path)


# --- the project's registries -------------------------------------------------------------------


def test_project_registries_share_the_resolver_and_keep_the_names_artifacts_record():
    from audio.encoder.model import VARIANTS
    from kg.stores.registry import STORES
    from recommender.baselines.registry import BASELINES
    from recommender.models.registry import PRODUCT_MODELS
    from recommender.registry import RECOMMENDERS

    for registry in (STORES, BASELINES, PRODUCT_MODELS, RECOMMENDERS, VARIANTS):
        assert isinstance(registry, VersionedRegistry)
    # Saved artifacts and reports carry these names: they must keep resolving to themselves.
    assert STORES.names() == ["kg.store.neo4j.v1", "kg.store.sql.v1"]
    assert PRODUCT_MODELS.resolve("leitmotif.joint.v1") == "leitmotif.joint.v1"
    assert VARIANTS.names() == ["autoencoder", "cnn", "cnn_lstm", "embedding_only", "fused"]
    for name in ("baseline.ease.v1", "baseline.item_knn.v1", "baseline.kge_only.v1", "leitmotif.joint.v1"):
        assert RECOMMENDERS.resolve(name) == name
    assert RECOMMENDERS.names() == sorted([*BASELINES.names(), *PRODUCT_MODELS.names()])
