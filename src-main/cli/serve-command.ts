/**
 * `distill serve`: the wizard in a browser. Listens on 127.0.0.1 only and prints a URL holding a
 * fresh random token; without it every API request is refused.
 */
import { parseArgs } from 'node:util';
import path from 'node:path';
import { defaultHome } from '../jobs/home.ts';
import { startBridge } from '../bridge/bridge-server.ts';

const USAGE = `usage: distill serve [--port 0] [--home DIR]
  serves the wizard and its API on 127.0.0.1; open the printed URL (it carries the access token)
`;

export async function run(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '0' },
        home: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`--port must be 0–65535\n\n${USAGE}`);
    return 2;
  }
  const home = values.home ? path.resolve(values.home) : defaultHome();
  const bridge = await startBridge({ home, port });
  process.stdout.write(`Distill Workbench is serving on 127.0.0.1 (home ${home}).\nOpen: ${bridge.url}\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await bridge.close();
  return 0;
}
