// `npm run node -- --join URL`: the arguments of a node that joins a running cluster.
import { describe, expect, it } from 'vitest';
import { parseNodeArgs } from './node-args';
import { nodeVars } from './node-config';
import { nodeProcessArgs } from './process';

const base = ['--id', 'n4', '--port', '8790', '--data', '/tmp/x/n4', '--secret', 'abcdefgh'];

describe('--join', () => {
  it('starts with no peers and passes JOIN to the node', () => {
    const a = parseNodeArgs([...base, '--join', 'http://127.0.0.1:8787/'], {});
    if (a.help) throw new Error('help');
    expect(a.settings.peers).toEqual([]);
    expect(a.settings.join).toBe('http://127.0.0.1:8787');
    const vars = nodeVars({ ...a.settings, secret: 'abcdefgh' });
    expect(vars).toMatchObject({ JOIN: 'http://127.0.0.1:8787', PEERS: '' });
  });

  it('survives the launcher passing it on to a node process', () => {
    const settings = {
      id: 'n4',
      host: '127.0.0.1',
      port: 8790,
      url: 'http://127.0.0.1:8790',
      peers: [],
      secret: 'abcdefgh',
      dataDir: '/tmp/x/n4',
    };
    const args = nodeProcessArgs({ ...settings, join: 'http://127.0.0.1:8787', adminToken: 'admin-token' });
    const a = parseNodeArgs(args, {});
    if (a.help) throw new Error('help');
    expect(a.settings).toMatchObject({ join: 'http://127.0.0.1:8787', adminToken: 'admin-token', peers: [] });
  });

  it('refuses --join with --peers, and a join that is no URL', () => {
    expect(() => parseNodeArgs([...base, '--join', 'http://127.0.0.1:8787', '--peers', 'n1=http://127.0.0.1:8787'], {})).toThrow(
      /either --join or --peers/,
    );
    expect(() => parseNodeArgs([...base, '--join', 'nowhere'], {})).toThrow(/not an http\(s\) URL/);
  });

  it('JOIN in the environment works like the flag', () => {
    const a = parseNodeArgs(base, { JOIN: 'http://127.0.0.1:8788' });
    if (a.help) throw new Error('help');
    expect(a.settings.join).toBe('http://127.0.0.1:8788');
  });
});

describe('--peer-routes', () => {
  it('passes PEER_ROUTES to the node, also through a node process, and refuses a malformed list', () => {
    const routes = 'n2=http://127.0.0.1:19601,http://127.0.0.1:19502=http://127.0.0.1:19602';
    const a = parseNodeArgs([...base, '--peers=n2=http://127.0.0.1:19501', `--peer-routes=${routes}`], {});
    if (a.help) throw new Error('help');
    expect(nodeVars({ ...a.settings, secret: 'abcdefgh' }).PEER_ROUTES).toBe(routes);
    const again = parseNodeArgs(nodeProcessArgs({ ...a.settings, secret: 'abcdefgh' }), {});
    expect(!again.help && again.settings.peerRoutes).toBe(routes);
    expect(() => parseNodeArgs([...base, '--peers=', '--peer-routes=n2'], {})).toThrow(/--peer-routes: "n2" is not of the form/);
    const env = parseNodeArgs([...base, '--peers='], { PEER_ROUTES: 'n2=http://127.0.0.1:1' });
    expect(!env.help && env.settings.peerRoutes).toBe('n2=http://127.0.0.1:1');
  });
});
