import './kd-soft.ts';
import './kd-hard.ts';
import './kd-ls.ts';
import './fs-bbt.ts';
import './active-mixup.ts';
import './gpd.ts';
import './mekd.ts';

export { getMethod, listMethods, checkMethodBlock } from './registry.ts';
