import { registerTeacherAdapter } from './registry.ts';
import { OnnxLocalTeacher, type OnnxLocalOptions } from './onnx-local-teacher.ts';
import { openKServeV2Teacher } from './kserve-v2-teacher.ts';
import { openTfServingTeacher } from './tf-serving-teacher.ts';
import { openTorchServeTeacher } from './torchserve-teacher.ts';
import { openHttpJsonTeacher } from './http-json-teacher.ts';

registerTeacherAdapter('onnx-local', (s) => OnnxLocalTeacher.open(s as unknown as OnnxLocalOptions));
registerTeacherAdapter('kserve-v2', openKServeV2Teacher);
registerTeacherAdapter('tf-serving', openTfServingTeacher);
registerTeacherAdapter('torchserve', openTorchServeTeacher);
registerTeacherAdapter('http-json', openHttpJsonTeacher);

export { openTeacher, teacherProtocols } from './registry.ts';
