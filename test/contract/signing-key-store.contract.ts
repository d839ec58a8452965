import type { SigningKeyStore } from '../../lambdas/ports/signing-key-store';

export type SigningKeyStoreFixture = {
  store: SigningKeyStore;
  reopen(): Promise<SigningKeyStore>;
  cleanup(): Promise<void>;
};

/** The SigningKeyStore port's behaviour, run against every adapter. */
export function describeSigningKeyStoreContract(
  name: string,
  makeFixture: () => Promise<SigningKeyStoreFixture>,
): void {
  describe(`SigningKeyStore contract: ${name}`, () => {
    let fixture: SigningKeyStoreFixture;
    beforeEach(async () => {
      fixture = await makeFixture();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    it('has no keys until some are saved', async () => {
      expect(await fixture.store.getKeys()).toBeUndefined();
    });

    it('returns the last saved pair, also after reopening', async () => {
      await fixture.store.saveKeys({ current: 'sig_a', next: 'sig_b' });
      await fixture.store.saveKeys({ current: 'sig_b', next: 'sig_c' });

      const beforeReopening = await fixture.store.getKeys();
      const reopened = await fixture.reopen();

      expect(beforeReopening).toEqual({ current: 'sig_b', next: 'sig_c' });
      expect(await reopened.getKeys()).toEqual({ current: 'sig_b', next: 'sig_c' });
    });
  });
}
