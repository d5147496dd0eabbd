/**
 * The MinIO admin API's pure parts: madmin's body encryption (sio + PBKDF2) and the policy
 * comparison that refresh relies on. The encryption is pinned three ways: sio-go's own published
 * test vectors (known answers from upstream), a decrypt written here from the format's
 * description (independent of the code under test), and one fixed vector whose bytes must never
 * change. tests/integration/minio-admin.test.ts feeds the same output to madmin-go's DecryptData.
 */
import { strict as assert } from "assert";
import { createCipheriv, createDecipheriv, createHash, pbkdf2Sync } from "node:crypto";
import { canonicalPolicy, madminEncrypt, MADMIN_PBKDF2_AES_GCM, signAdminRequest, sioSeal } from "../../components/objectstore/minio-admin";
import { policyDocument } from "../../components/objectstore/types";

/**
 * Every AES-128-GCM entry of github.com/secure-io/sio-go v0.3.1 test_vectors.json, as published
 * (hex). BufSize 16/17 makes several of them multi-fragment.
 */
const SIO_VECTORS = [
    { bufSize: 16, key: "00000000000000000000000000000000", nonce: "0000000000000000", ad: "", plaintext: "", ciphertext: "e0247a864e783cecb1f7996c13cd3f64" },
    { bufSize: 16, key: "10000000000000000000000000000000", nonce: "0000000000000000", ad: "", plaintext: "", ciphertext: "0ea5336db7013554c07aa43b369e5655" },
    { bufSize: 16, key: "10000000000000000000000000000000", nonce: "1000000000000000", ad: "", plaintext: "", ciphertext: "a52763497d2e64ee49bf4c72dc6881e7" },
    { bufSize: 16, key: "10000000000000000000000000000000", nonce: "1000000000000000", ad: "00", plaintext: "", ciphertext: "2d9ede532b1f5f034e22375d816f76c2" },
    { bufSize: 16, key: "10000000000000000000000000000000", nonce: "1000000000000000", ad: "00", plaintext: "00", ciphertext: "61ed193d12a2adf6f1c41f31de4ead6c5c" },
    { bufSize: 16, key: "20000000000000000000000000000000", nonce: "1000000000000000", ad: "00", plaintext: "00", ciphertext: "4b6e93acd3e4602b9c1ad49da985d1f872" },
    { bufSize: 16, key: "00000000000000000000000000000000", nonce: "0000000000000000", ad: "0000000000000000", plaintext: "0000000000000000", ciphertext: "4661d681f92680d7a307c7a036700edde4697a1f3ba7e01b" },
    { bufSize: 16, key: "00000000000000000000000000000001", nonce: "2000000000000000", ad: "1000000000000000", plaintext: "00000000000000000000000000000000", ciphertext: "8501dcfa461a0860ef9933655b1e59a9e7db1ed363b6ff80f219ca986dca9ce2" },
    { bufSize: 16, key: "0a7a6d49e4ad042f1e1ffa168849d651", nonce: "4a9ba500be169ab3", ad: "d40703848d887a01664c30734fa370581c5f8f6d0ea7bfdd", plaintext: "424d6d60d7e08b3b41e968fc4557b93c", ciphertext: "aa4b4ca42d587b98d0d5f009c0efbc4fcaaefdc1c79a3cfe07801ed8c708d259" },
    { bufSize: 16, key: "10000000000000000000000000000000", nonce: "0000000000000002", ad: "", plaintext: "0000000000000000000000000000000000", ciphertext: "691deb7b9ccbee91f48d12c7ad5fe3cd4e1e5e7d394f06b91228ec9a5dd2456ac7de9502a0b4010fb1ee1db94e940458fb" },
    { bufSize: 16, key: "20000000000000000000000000000000", nonce: "2000000000000000", ad: "00", plaintext: "0000000000000000000000000000000000000000000000000000000000000000", ciphertext: "f58d8fef7ac7782a4361a79c07f5e6c4672d8a45e6cb9ef67cb7177897358deb8d338d313d44f78e0b68a3723d7ca0fe5f62aa8af0a72e508f5d5f8491ecedb2" },
    { bufSize: 16, key: "000102030405060708090a0b0c0d0e0f", nonce: "0001020304050607", ad: "0102030405060708090a0b0c0d0e0f10", plaintext: "0000000000000000000000000000000000000000000000000000000000000000", ciphertext: "beffe57efbdadb693b5545d58454ba746c5362c6f37b65da457d85bfe6af8972cfea267b03f14aedf25e7501e88c0d79f5440d0ac49e5c4fdaab4dfac9aec4d3" },
    { bufSize: 17, key: "67fc3ffd5353a432a6cbc982007606c8", nonce: "6958a70a975e32c6", ad: "", plaintext: "", ciphertext: "076243570112d32362c1d9e4ab4096ca" },
    { bufSize: 17, key: "31dd758d120fd5d30063921a21f723be", nonce: "d3794fe387018e32", ad: "1d838b6e861ea7576de110e08818de82a27337a99db7b95aa95c3347971ad4cfa0ef0960d6645f5a64f88c7d", plaintext: "d0ae0d85e93ed6be853ded2031643116a03215b4fda224d2986d7233039aa47e91b686f4", ciphertext: "a6fe911b94e0b25a25bf6da71f28ad6a6b6920be01589e9194226f77c164606545d5cbdb76c99415b468c54517f5a8bc8dc8ac13b1b4285fe36f37f7884d5e4bfb32ecef56b4026bf02bfb1d4fce222e01ef9db9" },
];

/**
 * sio's decryption, from the DARE description rather than from the encrypting code: fragments of
 * bufSize + 16 bytes, the last one shorter (or a bare tag); nonce = nonce8 || LE32(seq) from seq 1;
 * the AD is a flag byte (0x80 on the last fragment, else 0x00) and the tag of an empty seal at seq 0.
 */
function sioOpen(key: Buffer, nonce: Buffer, ciphertext: Buffer, bufSize: number, associatedData = Buffer.alloc(0)): Buffer {
    const algorithm = key.length === 16 ? "aes-128-gcm" : "aes-256-gcm";
    const iv = (seq: number) => Buffer.concat([nonce, Buffer.from([seq & 0xff, (seq >>> 8) & 0xff, (seq >>> 16) & 0xff, seq >>> 24])]);
    const open = (seq: number, sealed: Buffer, ad: Buffer) => {
        const d = createDecipheriv(algorithm, key, iv(seq));
        d.setAAD(ad);
        d.setAuthTag(sealed.subarray(sealed.length - 16));
        return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
    };
    // The header tag is GCM over nothing: with an empty plaintext, the seal is the tag alone.
    const headerCipher = (() => {
        const c = createCipheriv(algorithm, key, iv(0));
        c.setAAD(associatedData);
        c.final();
        return c.getAuthTag();
    })();
    const out: Buffer[] = [];
    const fragment = bufSize + 16;
    let seq = 1;
    let offset = 0;
    while (ciphertext.length - offset > fragment) {
        out.push(open(seq++, ciphertext.subarray(offset, offset + fragment), Buffer.concat([Buffer.from([0x00]), headerCipher])));
        offset += fragment;
    }
    out.push(open(seq, ciphertext.subarray(offset), Buffer.concat([Buffer.from([0x80]), headerCipher])));
    return Buffer.concat(out);
}

/** madmin DecryptData for id 0x02, read from madmin-go's encrypt.go: salt(32) | id | nonce(8) | sio. */
function madminDecrypt(password: string, body: Buffer): Buffer {
    assert.equal(body[32], 0x02, "AEAD id: PBKDF2-SHA256 + AES-256-GCM");
    const salt = body.subarray(0, 32);
    const nonce = body.subarray(33, 41);
    const key = pbkdf2Sync(password, salt, 8192, 32, "sha256");
    return sioOpen(key, nonce, body.subarray(41), 16_384);
}

/** Pinned: fixed salt (0x07 x 32) and nonce (0x09 x 8); madmin-go decrypts it in the integration suite. */
const VECTOR = {
    password: "minio-admin-known-answer",
    plaintext: '{"secretKey":"s3cr3t-k3y-value","status":"enabled"}',
    ciphertext:
        "0707070707070707070707070707070707070707070707070707070707070707020909090909090909550f2cd793cea1d4913391fd0e88bcaf9f006c83e994c679ab88e6eca103cc59ba59d07581cdb2067caef9416011d41bf29cedf07787a388d364706bd3021400eea105",
};

describe("MinIO admin API (pure parts)", () => {
    describe("sio stream encryption", () => {
        SIO_VECTORS.forEach((v, i) => {
            it(`matches sio-go's published vector ${i + 1} (buffer ${v.bufSize}, ${v.plaintext.length / 2} bytes)`, () => {
                const hex = (s: string) => Buffer.from(s, "hex");
                assert.equal(sioSeal(hex(v.key), hex(v.nonce), hex(v.plaintext), v.bufSize, hex(v.ad)).toString("hex"), v.ciphertext);
                assert.equal(sioOpen(hex(v.key), hex(v.nonce), hex(v.ciphertext), v.bufSize, hex(v.ad)).toString("hex"), v.plaintext);
            });
        });

        it("fragments at the buffer size: a full last fragment stays the last one (no empty fragment after it)", () => {
            const key = Buffer.alloc(32, 1);
            const nonce = Buffer.alloc(8, 2);
            for (const n of [0, 1, 16, 17, 32, 33]) {
                const sealed = sioSeal(key, nonce, Buffer.alloc(n, 3), 16);
                assert.equal(sealed.length, n + 16 * Math.max(1, Math.ceil(n / 16)), `${n} bytes`);
                assert.deepEqual(sioOpen(key, nonce, sealed, 16), Buffer.alloc(n, 3));
            }
        });

        it("refuses a nonce or key of the wrong size", () => {
            assert.throws(() => sioSeal(Buffer.alloc(32), Buffer.alloc(12), Buffer.alloc(1)), /nonce is 12 bytes, expected 8/);
            assert.throws(() => sioSeal(Buffer.alloc(24), Buffer.alloc(8), Buffer.alloc(1)), /24-byte key/);
        });
    });

    describe("madmin EncryptData format", () => {
        it("lays out salt | 0x02 | nonce | sio stream, and decrypts with a decrypt written from the format", () => {
            for (const size of [0, 1, 100, 16_384, 16_385, 50_000]) {
                const data = Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
                const body = madminEncrypt("admin-secret", data);
                assert.equal(body[32], MADMIN_PBKDF2_AES_GCM);
                assert.equal(body.length, 41 + size + 16 * Math.max(1, Math.ceil(size / 16_384)));
                assert.deepEqual(madminDecrypt("admin-secret", body), data, `${size} bytes`);
            }
        });

        it("uses a fresh salt and nonce each time, and the wrong password fails authentication", () => {
            const data = Buffer.from('{"secretKey":"x","status":"enabled"}');
            const a = madminEncrypt("pw", data);
            const b = madminEncrypt("pw", data);
            assert.notDeepEqual(a.subarray(0, 41), b.subarray(0, 41));
            assert.throws(() => madminDecrypt("other", a), /unable to authenticate/);
        });

        it("produces the pinned known-answer vector for a fixed salt and nonce", () => {
            const body = madminEncrypt(VECTOR.password, Buffer.from(VECTOR.plaintext), { salt: Buffer.alloc(32, 7), nonce: Buffer.alloc(8, 9) });
            assert.equal(body.toString("hex"), VECTOR.ciphertext);
            assert.equal(madminDecrypt(VECTOR.password, body).toString(), VECTOR.plaintext);
            // The integration suite checks madmin-go decrypts exactly these bytes (by their SHA-256).
            assert.equal(createHash("sha256").update(body).digest("hex"), "e1610a94b30680f21e658ac636b717431db3a6c9b346194ae1975b0af579ef7b");
        });
    });

    describe("admin request signing", () => {
        it("signs as service s3 in us-east-1 over the host, the payload hash and the content type", async () => {
            const body = Buffer.from("{}");
            const { url, headers } = await signAdminRequest(
                "127.0.0.1:9000",
                { accessKeyId: "AKID", secretAccessKey: "secret" },
                { method: "PUT", path: "/add-canned-policy", query: { name: "svc flink" }, body, contentType: "application/octet-stream" },
                new Date("2025-01-02T03:04:05Z"),
            );
            assert.equal(url, "http://127.0.0.1:9000/minio/admin/v3/add-canned-policy?name=svc%20flink");
            assert.equal(headers["x-amz-content-sha256"], createHash("sha256").update(body).digest("hex"));
            assert.equal(headers["x-amz-date"], "20250102T030405Z");
            assert.match(headers.authorization!, /^AWS4-HMAC-SHA256 Credential=AKID\/20250102\/us-east-1\/s3\/aws4_request, SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date, Signature=[0-9a-f]{64}$/);
            // Deterministic for a fixed clock: the same request signs the same.
            const again = await signAdminRequest("127.0.0.1:9000", { accessKeyId: "AKID", secretAccessKey: "secret" },
                { method: "PUT", path: "/add-canned-policy", query: { name: "svc flink" }, body, contentType: "application/octet-stream" }, new Date("2025-01-02T03:04:05Z"));
            assert.equal(again.headers.authorization, headers.authorization);
        });
    });

    describe("policy comparison (what refresh calls drift)", () => {
        const ours = policyDocument([{ bucket: "raw-events" }]);

        it("sees no change in MinIO's re-marshalled form: indentation, set order, a string for a one-element list, empty Sid/Condition", () => {
            const doc = JSON.parse(ours) as { Statement: { Action: string[]; Resource: string[] }[] };
            const asMinio = JSON.stringify(
                {
                    Version: "2012-10-17",
                    Statement: doc.Statement.map((s) => ({ Sid: "", Effect: "Allow", Action: [...s.Action].reverse(), Resource: s.Resource.length === 1 ? s.Resource[0] : s.Resource, Condition: {} })),
                },
                null,
                " ",
            );
            assert.equal(canonicalPolicy(asMinio), canonicalPolicy(ours));
            const withCondition = (value: unknown) => JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:ListBucket", Resource: "arn:aws:s3:::b", Condition: { StringLike: { "s3:prefix": value } } }] });
            assert.equal(canonicalPolicy(withCondition("a/*")), canonicalPolicy(withCondition(["a/*"])));
        });

        it("sees a change in meaning: another bucket, another action, another effect", () => {
            assert.notEqual(canonicalPolicy(policyDocument([{ bucket: "raw-events" }, { bucket: "other" }])), canonicalPolicy(ours));
            assert.notEqual(canonicalPolicy(ours.replace("s3:DeleteObject", "s3:DeleteBucket")), canonicalPolicy(ours));
            assert.notEqual(canonicalPolicy(ours.replace(/"Allow"/g, '"Deny"')), canonicalPolicy(ours));
        });
    });
});
