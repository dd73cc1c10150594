/** Importing this module registers the whole zoo. */
import './lenet5.ts';
import './mlp.ts';
import './resnet8.ts';
import './mobilenet-tiny.ts';

export { getStudent, listStudents, registerStudent } from './registry.ts';
export type { StudentSpec, StudentBuildOptions } from './registry.ts';
export { describeStudent } from './describe.ts';
export type { StudentDescription, LayerCost } from './describe.ts';
