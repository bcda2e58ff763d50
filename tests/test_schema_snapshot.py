from graphql import GraphQLNamedType, GraphQLObjectType, GraphQLOutputType, build_schema, get_named_type, is_leaf_type

from metagate.schema import SCHEMA_FILE, printed


def test_checked_in_schema_is_the_served_schema() -> None:
    # Run `make schema` after an intended API change and review the diff.
    assert SCHEMA_FILE.read_text() == printed()


def _shape(type_: GraphQLOutputType) -> str:
    """A field's type as field merging compares it: its wrappers, and its named type
    when that is a leaf (objects of different types merge by their own fields)."""
    named: GraphQLNamedType = get_named_type(type_)
    text = str(type_)
    return text if is_leaf_type(named) else text.replace(named.name, "{object}")


def conflicts(schema_text: str) -> list[str]:
    schema = build_schema(schema_text)
    node_types = [
        t for t in schema.type_map.values() if isinstance(t, GraphQLObjectType) and "Node" in {i.name for i in t.interfaces}
    ]
    seen: dict[str, tuple[str, str]] = {}
    found = []
    for t in node_types:
        for name, field in t.fields.items():
            shape = _shape(field.type)
            if name in seen and seen[name][1] != shape:
                found.append(f"{seen[name][0]}.{name}: {seen[name][1]} vs {t.name}.{name}: {shape}")
            seen.setdefault(name, (t.name, shape))
    return found


def test_fields_of_one_name_on_node_types_merge_in_one_selection() -> None:
    # `node(id) { ... on Run { status } ... on Job { status } }` is valid GraphQL only
    # when the two fields of one response name have one type: the web UI's node page asks so.
    assert conflicts(SCHEMA_FILE.read_text()) == []
    assert conflicts(
        "interface Node { id: ID! } type A implements Node { id: ID! s: Int } type B implements Node { id: ID! s: String }"
    )
