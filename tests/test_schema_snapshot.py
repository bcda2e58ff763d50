from metagate.schema import SCHEMA_FILE, printed


def test_checked_in_schema_is_the_served_schema() -> None:
    # Run `make schema` after an intended API change and review the diff.
    assert SCHEMA_FILE.read_text() == printed()
