"""The seed's example payload handler (etl/example/example_text_stream_processor.py).

A message on castiron_text_payload such as
    {"worker_run_method": "etl.example.example_text_stream_processor.process",
     "data": "{\"field1\": 1, \"field2\": 2}", "arg1": "test", "arg2": "test2"}
calls process(data=..., arg1="test", arg2="test2") when CastIron:Python:AllowedHandlers allows it.
"""


def process(data, *, file_metadata=None, arg1=None, arg2=None, **_):
    print("data: %s" % (data,))
    print("arg1: %s, arg2: %s" % (arg1, arg2))
