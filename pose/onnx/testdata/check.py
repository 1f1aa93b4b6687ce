# Checks an ONNX file with onnx.checker (full check with shape inference)
# and prints its IR version, opset and metadata_props as JSON.
import json
import sys

import onnx

m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
onnx.shape_inference.infer_shapes(m, check_type=True, strict_mode=True)
print(json.dumps({"ir": m.ir_version, "opset": m.opset_import[0].version,
                  "meta": {p.key: p.value for p in m.metadata_props}}))
