/** The entry of a data-parallel training worker thread: a replica with the gradient exchange. */
import { allReduce, serve } from './replica.ts';

serve({ exchange: allReduce });
