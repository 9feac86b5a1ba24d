"""The seed's example file processor (etl/example/example_text_processor.py), unchanged in behaviour.

Configured by the seed's example_config.toml:

    [castiron.etl.python]
    worker_run_method = "etl.example.example_text_processor.process"
    supports_metadata = true

    [castiron.etl.python.static_kwargs]
    field1_param = "foobar"
"""
import csv
import logging

logger = logging.getLogger(__name__)

COLUMNS = ["timestamp", "longitude", "latitude", "elevation", "data_id"]


def process(file_path, *, file_metadata=None, field1_param, **kwargs):
    print("processing %s with file_metadata %s and field1_param %s" % (file_path, file_metadata, field1_param))
    try:
        with open(file_path, newline="") as data:
            # Fixed column names: the header line is printed as a row too, as the seed did.
            for row in csv.DictReader(data, fieldnames=COLUMNS):
                print(dict(row))
    except Exception:
        logger.exception("Could not process %s", file_path)
        raise
