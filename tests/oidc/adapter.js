// In-memory storage for oidc-provider, shared by every Provider instance in
// this process (a key rotation builds a new instance over the same state).
// Unbounded on purpose: a test run is short, and evicting a live token would
// make tests fail for reasons that have nothing to do with what they test.

const records = new Map(); // "Model:id" -> { payload, expiresAt }
const grants = new Map(); // grantId -> Set of "Model:id"
const byUid = new Map(); // session uid -> session id
const byUserCode = new Map(); // user code -> device code id

const GRANT_MEMBERS = new Set([
  'AccessToken', 'AuthorizationCode', 'RefreshToken', 'DeviceCode', 'BackchannelAuthenticationRequest',
]);

function live(key) {
  const record = records.get(key);
  if (record && record.expiresAt !== undefined && record.expiresAt <= Date.now()) {
    records.delete(key);
    return undefined;
  }
  return record?.payload;
}

export class SharedMemoryAdapter {
  constructor(model) {
    this.model = model;
  }

  key(id) {
    return `${this.model}:${id}`;
  }

  async upsert(id, payload, expiresIn) {
    const expiresAt = typeof expiresIn === 'number' ? Date.now() + expiresIn * 1000 : undefined;
    records.set(this.key(id), { payload, expiresAt });
    if (GRANT_MEMBERS.has(this.model) && payload.grantId) {
      if (!grants.has(payload.grantId)) grants.set(payload.grantId, new Set());
      grants.get(payload.grantId).add(this.key(id));
    }
    if (this.model === 'Session' && payload.uid) byUid.set(payload.uid, id);
    if (payload.userCode) byUserCode.set(payload.userCode, id);
  }

  async find(id) {
    return live(this.key(id));
  }

  async findByUid(uid) {
    return byUid.has(uid) ? this.find(byUid.get(uid)) : undefined;
  }

  async findByUserCode(userCode) {
    return byUserCode.has(userCode) ? this.find(byUserCode.get(userCode)) : undefined;
  }

  async consume(id) {
    const payload = live(this.key(id));
    if (payload) payload.consumed = Math.floor(Date.now() / 1000);
  }

  async destroy(id) {
    records.delete(this.key(id));
  }

  async revokeByGrantId(grantId) {
    for (const key of grants.get(grantId) ?? []) records.delete(key);
    grants.delete(grantId);
  }
}
