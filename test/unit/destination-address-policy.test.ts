import type { LookupAddress } from 'node:dns';
import {
  addressRefusal,
  classifyAddress,
  DestinationRefusedError,
  literalAddress,
  policyLookup,
} from '../../lambdas/adapters/http/destination-address-policy';
import { UndiciDeliveryClient } from '../../lambdas/adapters/http/undici-delivery-client';
import { AWS_DEFAULT_ADDRESS_POLICY, loadAwsConfig } from '../../lambdas/aws/aws-config';
import { DeliveryAttemptError } from '../../lambdas/ports/delivery-client';
import { TestReceiver } from '../helpers/receiver';

const DENY = { allowLoopback: false, allowPrivate: false };
const ALLOW = { allowLoopback: true, allowPrivate: true };

const AWS_REQUIRED = {
  SQSTASH_TABLE_NAME: 't',
  SQSTASH_DELIVERY_QUEUE_URL: 'https://sqs.example/q',
  SQSTASH_DELIVERY_QUEUE_ARN: 'arn:aws:sqs:eu-west-1:1:q',
  SQSTASH_SCHEDULE_GROUP: 'g',
  SQSTASH_SCHEDULER_ROLE_ARN: 'arn:aws:iam::1:role/r',
  SQSTASH_TOKEN_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:t',
  SQSTASH_SIGNING_KEYS_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:1:secret:k',
};

describe('destination address policy', () => {
  it.each([
    ['8.8.8.8', 'public'],
    ['2606:4700:4700::1111', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['169.254.169.254', 'link-local'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['fe80::1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['fd00:ec2::254', 'private'],
    ['224.0.0.1', 'non-unicast'],
    ['255.255.255.255', 'non-unicast'],
    ['ff02::1', 'non-unicast'],
  ])('classifies %s as %s', (address, expected) => {
    expect(classifyAddress(address)).toBe(expected);
  });

  it('refuses by class: loopback and private each need their own permission', () => {
    const loopbackOnly = { allowLoopback: true, allowPrivate: false };

    expect(addressRefusal('127.0.0.1', loopbackOnly)).toBeUndefined();
    expect(addressRefusal('10.0.0.1', loopbackOnly)).toBe(
      'destination resolves to 10.0.0.1, a private-network address; refused by policy',
    );
    expect(addressRefusal('169.254.169.254', DENY)).toBe(
      'destination resolves to 169.254.169.254, a link-local/metadata address; refused by policy',
    );
    expect(addressRefusal('169.254.169.254', ALLOW)).toBeUndefined();
    expect(addressRefusal('8.8.8.8', DENY)).toBeUndefined();
    expect(addressRefusal('224.0.0.1', ALLOW)).toMatch(/multicast, broadcast or reserved/);
  });

  it('reads IP literals from URLs in every spelling the URL parser accepts', () => {
    expect(literalAddress('http://2130706433/x')).toBe('127.0.0.1');
    expect(literalAddress('http://0x7f.1/x')).toBe('127.0.0.1');
    expect(literalAddress('http://[::ffff:127.0.0.1]:80/x')).toBe('::ffff:7f00:1');
    expect(literalAddress('https://example.com/x')).toBeUndefined();
  });

  it('filters what a host name resolves to, and fails when nothing allowed is left', async () => {
    const resolve = (policy: typeof DENY) =>
      new Promise<LookupAddress[]>((done, fail) =>
        policyLookup(policy)('localhost', { all: true }, (error, addresses) =>
          error ? fail(error) : done(addresses as LookupAddress[]),
        ),
      );

    await expect(resolve(ALLOW)).resolves.toEqual(
      expect.arrayContaining([expect.objectContaining({ address: expect.any(String) })]),
    );
    await expect(resolve(DENY)).rejects.toBeInstanceOf(DestinationRefusedError);
  });

  it('makes the undici client refuse before connecting, by literal and by name', async () => {
    const receiver = await TestReceiver.start();
    const client = new UndiciDeliveryClient({ maxResponseBodyBytes: 1024, addressPolicy: DENY });
    const send = (url: string) =>
      client.send({ url, method: 'POST', headers: {}, body: new Uint8Array(), timeoutMs: 2_000 });
    try {
      await expect(send(`${receiver.url}/literal`)).rejects.toThrow(
        new DeliveryAttemptError(
          'destination resolves to 127.0.0.1, a loopback address; refused by policy',
        ),
      );
      await expect(send(`${receiver.url.replace('127.0.0.1', 'localhost')}/name`)).rejects.toThrow(
        /^destination resolves to (127\.0\.0\.1|::1), a loopback address; refused by policy$/,
      );
      expect(receiver.requests).toHaveLength(0);
    } finally {
      await client.close();
      await receiver.stop();
    }
  });

  describe('AWS runtime configuration', () => {
    it('refuses loopback, private and link-local destinations by default', () => {
      expect(loadAwsConfig(AWS_REQUIRED).addressPolicy).toEqual(AWS_DEFAULT_ADDRESS_POLICY);
      expect(AWS_DEFAULT_ADDRESS_POLICY).toEqual(DENY);
    });

    it('allows them when told to', () => {
      const config = loadAwsConfig({
        ...AWS_REQUIRED,
        SQSTASH_ALLOW_LOOPBACK_DESTINATIONS: 'true',
        SQSTASH_ALLOW_PRIVATE_DESTINATIONS: 'true',
      });

      expect(config.addressPolicy).toEqual(ALLOW);
    });
  });
});
