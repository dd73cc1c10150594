import { registerTeacherAdapter } from './registry.ts';
import { OnnxLocalTeacher, type OnnxLocalOptions } from './onnx-local-teacher.ts';

registerTeacherAdapter('onnx-local', (s) => OnnxLocalTeacher.open(s as unknown as OnnxLocalOptions));

export { openTeacher, teacherProtocols } from './registry.ts';
