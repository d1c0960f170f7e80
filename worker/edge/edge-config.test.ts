import { describe, expect, it } from 'vitest';
import { memberUrl, objectName, parseEdgeConfig, parseObjectName } from './edge-config';

describe('edge configuration', () => {
  it('reads members, positional and per-member location hints, and the clusters served', () => {
    const r = parseEdgeConfig({ EDGE_MEMBERS: 'n1, n2,n3', EDGE_LOCATIONS: 'wnam,enam,weur,n4=APAC', EDGE_CLUSTERS: 'main,b' });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.defaultCluster).toBe('main');
    const main = r.settings.clusters.get('main')!;
    expect(main.members).toEqual(['n1', 'n2', 'n3']);
    expect([...main.locations]).toEqual([
      ['n1', 'wnam'],
      ['n2', 'enam'],
      ['n3', 'weur'],
      ['n4', 'apac'],
    ]);
    expect(r.settings.clusters.get('b')!.members).toEqual(['n1', 'n2', 'n3']);
  });

  it('lets one cluster have its own members and hints', () => {
    const r = parseEdgeConfig({
      EDGE_MEMBERS: 'n1,n2,n3',
      EDGE_CLUSTERS: 'small,tenant-a',
      EDGE_MEMBERS_TENANT_A: 'a,b,c,d,e',
      EDGE_LOCATIONS_TENANT_A: 'weur,weur,eeur,eeur,enam',
    } as Record<string, string>);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.settings.clusters.get('small')!.members).toEqual(['n1', 'n2', 'n3']);
    expect(r.settings.clusters.get('small')!.locations.size).toBe(0);
    expect(r.settings.clusters.get('tenant-a')!.members).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(r.settings.clusters.get('tenant-a')!.locations.get('e')).toBe('enam');
  });

  it('names every problem, each with the var it comes from', () => {
    const r = parseEdgeConfig({ EDGE_MEMBERS: 'n1,n1,bad id', EDGE_LOCATIONS: 'mars', EDGE_CLUSTERS: 'Main', EDGE_DEFAULT_CLUSTER: 'x' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      'EDGE_CLUSTERS item "Main" must be lowercase letters, digits and "-"',
      'EDGE_DEFAULT_CLUSTER "x" is not one of EDGE_CLUSTERS',
    ]);
    const members = parseEdgeConfig({ EDGE_MEMBERS: 'n1,n1,bad id', EDGE_LOCATIONS: 'mars,wnam,wnam,wnam' });
    expect(members.ok).toBe(false);
    if (members.ok) return;
    expect(members.errors).toEqual([
      'EDGE_MEMBERS item "bad id" must be 1-64 letters, digits, "_", "." or "-"',
      'EDGE_MEMBERS names a member twice',
      'EDGE_LOCATIONS item "mars": the hint must be one of wnam, enam, sam, weur, eeur, apac, oc, afr, me',
      'EDGE_LOCATIONS has more positional items than EDGE_MEMBERS has members',
    ]);
    expect(parseEdgeConfig({})).toEqual({
      ok: false,
      errors: ['EDGE_MEMBERS is required: the initial members of each cluster, like "n1,n2,n3"'],
    });
  });

  it('names objects "<cluster>/<id>" and gives each member a unique address that is never fetched', () => {
    expect(objectName('main', 'n2')).toBe('main/n2');
    expect(parseObjectName('main/n2')).toEqual({ cluster: 'main', id: 'n2' });
    expect(parseObjectName('node')).toBeNull();
    expect(parseObjectName('Main/n2')).toBeNull();
    expect(memberUrl('main', 'n2')).toBe('http://edge.invalid/c/main/m/n2');
    expect(new URL(memberUrl('main', 'n2')).hostname.endsWith('.invalid')).toBe(true);
  });
});
