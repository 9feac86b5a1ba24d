"""The seed's etl.util helpers that configs name (its test config runs process_file_stub)."""


def process_file_stub(file_path, **kwargs):
    """Does nothing with the file; says what it was given."""
    print("process_file_stub: %s %s" % (file_path, kwargs))
