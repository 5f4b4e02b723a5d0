"""moto_server, with fixes for responses the AWS SDK for Rust checks more strictly than boto does.

The test harness and `make demo` start the emulator through this wrapper. Each fix is narrow and says which
moto behaviour it corrects; without them the real SDK rejects a response that real AWS sends correctly.

- S3 CompleteMultipartUpload: moto 5.2 wraps the result in <CompleteMultipartUploadResponse>; S3 (and the
  SDK's parser) use <CompleteMultipartUploadResult>.
"""

import sys

from moto.core import serialize
from moto.server import main

_ROOT_FIXES = {"CompleteMultipartUpload": "CompleteMultipartUploadResult"}
_original = serialize.BaseXMLSerializer._serialized_result_to_response


def _serialized_result_to_response(self, resp, result, shape, serialized_result):
    resp = _original(self, resp, result, shape, serialized_result)
    fixed_root = _ROOT_FIXES.get(self.operation_model.name)
    body = resp.get("body")
    if fixed_root and isinstance(body, str):
        wrong_root = f"{self.operation_model.name}Response"
        resp["body"] = body.replace(f"<{wrong_root}", f"<{fixed_root}").replace(f"</{wrong_root}>", f"</{fixed_root}>")
    return resp


serialize.BaseXMLSerializer._serialized_result_to_response = _serialized_result_to_response

if __name__ == "__main__":
    main(sys.argv[1:])
