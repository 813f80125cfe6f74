import * as dns from 'node:dns';
import { classifyAddress, TargetGuard, targetPolicyFromEnv, TargetRefusedError } from './target-guard';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'a loopback address'],
    ['127.255.255.254', 'a loopback address'],
    ['::1', 'a loopback address'],
    ['0:0:0:0:0:0:0:1', 'a loopback address'],
    ['10.0.0.1', 'a private address'],
    ['172.16.0.1', 'a private address'],
    ['172.31.255.255', 'a private address'],
    ['192.168.1.1', 'a private address'],
    ['fc00::1', 'a private (unique local) address'],
    ['fd12:3456::1', 'a private (unique local) address'],
    ['169.254.1.1', 'a link-local address'],
    ['fe80::1', 'a link-local address'],
    ['fe80::1%eth0', 'a link-local address'],
    ['100.64.0.1', 'a shared (CGNAT) address'],
    ['100.127.255.255', 'a shared (CGNAT) address'],
    ['0.0.0.0', 'a "this network" address'],
    ['0.1.2.3', 'a "this network" address'],
    ['224.0.0.1', 'a multicast address'],
    ['239.255.255.250', 'a multicast address'],
    ['ff02::1', 'a multicast address'],
    ['255.255.255.255', 'the broadcast address'],
    ['240.0.0.1', 'a reserved address'],
    ['169.254.169.254', 'a cloud metadata address'],
    ['fd00:ec2::254', 'a cloud metadata address'],
    ['100.100.100.200', 'a cloud metadata address'],
    ['::', 'the unspecified address'],
    // IPv6 forms that carry an IPv4 address are judged by that address
    ['::ffff:127.0.0.1', 'a loopback address'],
    ['::ffff:7f00:1', 'a loopback address'],
    ['::FFFF:10.0.0.1', 'a private address'],
    ['::ffff:169.254.169.254', 'a cloud metadata address'],
    ['::ffff:a9fe:a9fe', 'a cloud metadata address'],
    ['::ffff:192.168.0.1', 'a private address'],
    ['::127.0.0.1', 'a loopback address'],
    ['64:ff9b::10.0.0.1', 'a private address'],
    ['2002:a00:1::1', 'a private address'],
    ['2002:7f00:1::', 'a loopback address'],
    ['[::1]', 'a loopback address'],
    // SIIT's IPv4-translated form (::ffff:0:a.b.c.d) is translated to IPv4 like NAT64
    ['::ffff:0:127.0.0.1', 'a loopback address'],
    ['::ffff:0:a9fe:a9fe', 'a cloud metadata address'],
    // outside 2000::/3 nothing is global unicast
    ['::1:0:0:1', 'a reserved address'],
    ['1::', 'a reserved address'],
    ['5f00::1', 'a reserved address'],
    ['e000::1', 'a reserved address'],
    ['3fff::1', 'a documentation address'],
    ['localhost', 'not an IP address'],
  ])('should classify %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '93.184.216.34',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2002:808:808::1',
    '64:ff9b::8.8.8.8',
    '::ffff:0:8.8.8.8',
    '2001:4860:4860::8888',
  ])('should treat %s as public', (address) => {
    expect(classifyAddress(address)).toBeNull();
  });
});

describe('TargetGuard', () => {
  describe('When private targets are refused', () => {
    const guard = new TargetGuard({ allowPrivateTargets: false });

    it('should refuse non-public addresses with the reason', () => {
      expect(guard.refusalFor('10.0.0.1')?.message).toBe('target refused: 10.0.0.1 is a private address');
      expect(guard.refusalFor('::ffff:127.0.0.1')).toBeInstanceOf(TargetRefusedError);
      expect(guard.refusalFor('8.8.8.8')).toBeNull();
    });

    it('should refuse URLs whose host is a non-public literal without resolving anything', () => {
      expect(() => guard.checkUrl('http://127.0.0.1:8080/x')).toThrow('127.0.0.1 is a loopback address');
      expect(() => guard.checkUrl('http://[::1]/')).toThrow('::1 is a loopback address');
      expect(() => guard.checkUrl('http://[::ffff:169.254.169.254]/')).toThrow('cloud metadata');
      expect(() => guard.checkUrl('http://169.254.169.254/latest/meta-data/')).toThrow('cloud metadata');
      // the WHATWG parser turns these spellings into 127.0.0.1 before the check
      expect(() => guard.checkUrl('http://2130706433/')).toThrow('loopback');
      expect(() => guard.checkUrl('http://0x7f.1/')).toThrow('loopback');
    });

    it('should refuse schemes other than http and https', () => {
      expect(() => guard.checkUrl('ftp://8.8.8.8/')).toThrow('ftp: URLs are not allowed');
      expect(() => guard.checkUrl('file:///etc/passwd')).toThrow('file: URLs are not allowed');
      expect(() => guard.checkUrl('not a url')).toThrow('not a valid URL');
    });

    it('should leave hostnames to the lookup', () => {
      expect(guard.checkUrl('https://example.com/a').hostname).toBe('example.com');
    });
  });

  describe('When exact addresses are allowed', () => {
    const guard = new TargetGuard({ allowPrivateTargets: false, allowedAddresses: ['127.0.0.1'] });

    it('should allow exactly those addresses', () => {
      expect(guard.refusalFor('127.0.0.1')).toBeNull();
      expect(guard.refusalFor('::ffff:127.0.0.1')).toBeNull();
      expect(guard.refusalFor('127.0.0.2')).toBeInstanceOf(TargetRefusedError);
      expect(guard.refusalFor('::1')).toBeInstanceOf(TargetRefusedError);
      expect(guard.refusalFor('10.0.0.1')).toBeInstanceOf(TargetRefusedError);
      expect(guard.refusalFor('169.254.169.254')).toBeInstanceOf(TargetRefusedError);
    });
  });

  describe('When private targets are allowed', () => {
    const guard = new TargetGuard({ allowPrivateTargets: true });

    it('should allow any address but still only http and https', () => {
      expect(guard.refusalFor('127.0.0.1')).toBeNull();
      expect(guard.refusalFor('169.254.169.254')).toBeNull();
      expect(() => guard.checkUrl('ftp://127.0.0.1/')).toThrow(TargetRefusedError);
    });
  });

  describe('lookup', () => {
    const answers: Record<string, dns.LookupAddress[]> = {
      'public.test': [{ address: '93.184.216.34', family: 4 }],
      'mixed.test': [
        { address: '93.184.216.34', family: 4 },
        { address: '10.1.2.3', family: 4 },
      ],
      'mapped.test': [{ address: '::ffff:169.254.169.254', family: 6 }],
      'translated.test': [
        { address: '2606:4700:4700::1111', family: 6 },
        { address: '::ffff:0:7f00:1', family: 6 },
      ],
    };
    const guard = new TargetGuard({ allowPrivateTargets: false }, (hostname, _options, callback) =>
      callback(null, answers[hostname] ?? []),
    );
    const lookup = (hostname: string, all: boolean) =>
      new Promise<{ err: Error | null; address: unknown; family?: number }>((resolve) =>
        guard.lookup(hostname, { all }, (err, address, family) => resolve({ err, address, family })),
      );

    it('should pass through public answers in both callback shapes', async () => {
      expect(await lookup('public.test', false)).toEqual({ err: null, address: '93.184.216.34', family: 4 });
      expect((await lookup('public.test', true)).address).toEqual(answers['public.test']);
    });

    it('should refuse a host when any of its addresses is refused', async () => {
      const { err } = await lookup('mixed.test', true);

      expect(err).toBeInstanceOf(TargetRefusedError);
      expect(err?.message).toBe('target refused: mixed.test: 10.1.2.3 is a private address');
    });

    it('should refuse a host resolving to an IPv4-mapped metadata address', async () => {
      expect((await lookup('mapped.test', false)).err).toBeInstanceOf(TargetRefusedError);
    });

    it('should refuse a host with an IPv4-translated loopback among public answers', async () => {
      const { err } = await lookup('translated.test', true);

      expect(err?.message).toBe('target refused: translated.test: ::ffff:0:7f00:1 is a loopback address');
    });

    it('should report a host without addresses as not found', async () => {
      expect((await lookup('nothing.test', false)).err).toMatchObject({ code: 'ENOTFOUND' });
    });
  });
});

describe('targetPolicyFromEnv', () => {
  it('should read both variables', () => {
    expect(
      targetPolicyFromEnv({ ALLOW_PRIVATE_TARGETS: 'true', ALLOWED_TARGET_ADDRESSES: ' 10.0.0.5, ::1 ' }),
    ).toEqual({
      allowPrivateTargets: true,
      allowedAddresses: ['10.0.0.5', '::1'],
    });
    expect(targetPolicyFromEnv({})).toEqual({ allowPrivateTargets: false, allowedAddresses: [] });
    expect(targetPolicyFromEnv({ ALLOW_PRIVATE_TARGETS: '1' }).allowPrivateTargets).toBe(true);
    expect(targetPolicyFromEnv({ ALLOW_PRIVATE_TARGETS: 'no' }).allowPrivateTargets).toBe(false);
  });

  it('should reject entries that are not IP addresses', () => {
    expect(() => targetPolicyFromEnv({ ALLOWED_TARGET_ADDRESSES: 'internal.example' })).toThrow(
      'not an IP address',
    );
  });
});
