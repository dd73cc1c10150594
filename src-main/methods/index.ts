import './kd-soft.ts';
import './kd-hard.ts';

export { getMethod, listMethods, checkMethodBlock } from './registry.ts';
