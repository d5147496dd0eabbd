import { strict as assert } from "assert";
import { installMocks, PROJECT, resetResources, resources, setConfig } from "./mocks";
installMocks();
import { ConfigError, parseStackConfig, profiles } from "../../components/config";
import { program } from "../../components/program";

const parse = (raw: Record<string, string>) =>
    parseStackConfig(Object.fromEntries(Object.entries(raw).map(([k, v]) => [k.includes(":") ? k : `${PROJECT}:${k}`, v])), PROJECT, "test");

function rejects(raw: Record<string, string>, ...expected: RegExp[]): ConfigError {
    let caught: unknown;
    try {
        parse(raw);
    } catch (e) {
        caught = e;
    }
    assert.ok(caught instanceof ConfigError, `expected a ConfigError for ${JSON.stringify(raw)}`);
    for (const re of expected) assert.match(caught.message, re);
    return caught;
}

describe("stack configuration", () => {
    it("defaults to a laptop on Docker with MinIO, ports on 127.0.0.1", () => {
        const cfg = parse({});
        assert.equal(cfg.platform, "docker");
        assert.equal(cfg.objectStore, "minio");
        assert.equal(cfg.profile, "laptop");
        assert.equal(cfg.bindAddress, "127.0.0.1");
        assert.deepEqual(cfg.sizing.tierMiB, profiles.laptop.tierMiB);
        assert.equal(cfg.kafka.brokers, 1);
        assert.equal(cfg.ports.minioApi, 9000);
        assert.equal(cfg.buckets.warehouse, "iceberg-warehouse");
        assert.match(cfg.images.minio, /^quay\.io\/minio\/minio:RELEASE\.\d{4}-/);
    });

    it("takes the profile's counts unless a key overrides them", () => {
        assert.equal(parse({ profile: "workstation" }).kafka.brokers, 3);
        assert.equal(parse({ profile: "workstation", kafka: '{"brokers": 5}' }).kafka.brokers, 5);
        const cluster = parse({ profile: "cluster" });
        assert.deepEqual([cluster.kafka.controllers, cluster.kafka.brokers, cluster.flink.taskManagers], [3, 3, 3]);
        assert.deepEqual(cluster.sizing.tierMiB, profiles.cluster.tierMiB);
    });

    it("accepts aws:region as the S3 region", () => {
        const cfg = parse({ objectStore: "s3", "aws:region": "eu-west-1" });
        assert.equal(cfg.s3.region, "eu-west-1");
    });

    it("lets an image be overridden (a mirror) and keeps the rest from the version table", () => {
        const cfg = parse({ images: '{"minio": "mirror.local/minio:RELEASE.2025-09-07T16-13-09Z"}' });
        assert.equal(cfg.images.minio, "mirror.local/minio:RELEASE.2025-09-07T16-13-09Z");
        assert.match(cfg.images.kafka, /^apache\/kafka:4\./);
    });

    describe("rejects bad values naming the key, the value and what is allowed", () => {
        it("an unknown top-level key", () =>
            rejects({ objectstore: "s3" }, /dataplatform:objectstore = "s3": unknown key; allowed: platform, objectStore, profile/));
        it("an unknown nested key", () => rejects({ ports: '{"minio": 9000}' }, /dataplatform:ports\.minio = 9000: unknown key; allowed: minioApi, minioConsole/));
        it("a wrong type", () => rejects({ tiers: '{"druid": "no"}' }, /dataplatform:tiers\.druid = "no": .*expected boolean/));
        it("an unknown enum value", () => rejects({ objectStore: "gcs" }, /dataplatform:objectStore = "gcs": .*expected one of "minio"\|"s3"/));
        it("an unknown profile", () => rejects({ profile: "huge" }, /dataplatform:profile = "huge": .*"laptop"\|"workstation"/));
        it("a port out of range", () => rejects({ ports: '{"minioApi": 80}' }, /dataplatform:ports\.minioApi = 80: expected a port from 1024 to 65535/));
        it("a port clash between services", () =>
            rejects({ ports: '{"superset": 9000}' }, /dataplatform:ports\.superset = 9000: port clash: ports\.minioApi is also 9000/));
        it("no clash with the ports of a disabled tier", () => assert.equal(parse({ ports: '{"superset": 9000}', tiers: '{"superset": false}' }).ports.superset, 9000));
        it("an out-of-range count", () => rejects({ kafka: '{"brokers": 0}' }, /dataplatform:kafka\.brokers = 0: expected 1 to 9 brokers/));
        it("a controller count that cannot form a quorum", () =>
            rejects({ kafka: '{"controllers": 2}' }, /dataplatform:kafka\.controllers = 2: expected 0 \(combined broker\/controller\), 1, 3 or 5/));
        it("s3 without an AWS region", () => rejects({ objectStore: "s3" }, /dataplatform:s3\.region = \(not set\): required when objectStore is s3/));
        it("an invalid AWS region", () => rejects({ objectStore: "s3", s3: '{"region": "Europe"}' }, /dataplatform:s3\.region = "Europe": expected an AWS region/));
        it("an invalid bucket name", () => rejects({ buckets: '{"raw": "Raw_Events"}' }, /dataplatform:buckets\.raw = "Raw_Events": expected 3-63 characters/));
        it("two buckets with one name", () => rejects({ buckets: '{"raw": "data", "druid": "data"}' }, /dataplatform:buckets\.druid = "data": bucket name clash/));
        it("a bind address that is not an IP", () => rejects({ bindAddress: "localhost" }, /dataplatform:bindAddress = "localhost": expected an IPv4 address/));
        it("a bind address with a number above 255", () => rejects({ bindAddress: "999.1.1.1" }, /dataplatform:bindAddress = "999\.1\.1\.1": expected an IPv4 address \(four numbers 0-255\)/));
        it("a nested key set without --path, showing the command that works", () =>
            rejects({ "kafka.brokers": "3" }, /dataplatform:kafka\.brokers = "3": unknown key; allowed: .*; to set kafka\.brokers inside kafka, use: pulumi config set --path 'dataplatform:kafka\.brokers' 3/));
        it("an image override that is not pinned", () => {
            for (const ref of ["apache/kafka:latest", "apache/kafka", "registry.local:5000/apache/kafka"]) {
                rejects({ images: JSON.stringify({ kafka: ref }) }, new RegExp(`dataplatform:images\\.kafka = "${ref.replace(/[.]/g, "\\.")}": expected a pinned image: name:tag with a tag other than latest, or name@sha256:<digest>`));
            }
        });
        it("accepts an image pinned by digest, or by a tag behind a registry port", () => {
            const digest = `apache/kafka@sha256:${"a".repeat(64)}`;
            assert.equal(parse({ images: JSON.stringify({ kafka: digest }) }).images.kafka, digest);
            assert.equal(parse({ images: '{"kafka": "registry.local:5000/apache/kafka:4.1.1"}' }).images.kafka, "registry.local:5000/apache/kafka:4.1.1");
        });
        it("structured values that are not JSON", () => rejects({ ports: "{minioApi: 9000" }, /dataplatform:ports = "\{minioApi: 9000": not valid JSON/));
        describe("on kubernetes", () => {
            const k8s = (keys: Record<string, unknown>) => ({ platform: "kubernetes", kubernetes: JSON.stringify({ registry: "localhost:5001", ...keys }) });
            it("a registry missing while the stack builds images", () =>
                rejects({ platform: "kubernetes" }, /dataplatform:kubernetes\.registry = \(not set\): required on kubernetes: the flink, superset, pipeline tiers build images the cluster must pull; e\.g\. localhost:5001/));
            it("a registry that is not host[:port][/path]", () =>
                rejects(k8s({ registry: "https://registry.example" }), /dataplatform:kubernetes\.registry = "https:\/\/registry\.example": expected a registry as host\[:port\]\[\/path\]/));
            it("a namespace that is not a DNS label", () => rejects(k8s({ namespace: "Data_Platform" }), /dataplatform:kubernetes\.namespace = "Data_Platform": expected a DNS label/));
            it("a default namespace that is not a DNS label, naming the key to set", () => {
                let caught: unknown;
                try {
                    parseStackConfig({ [`${PROJECT}:platform`]: "kubernetes", [`${PROJECT}:kubernetes`]: '{"registry": "localhost:5001"}' }, PROJECT, "Dev_1");
                } catch (e) {
                    caught = e;
                }
                assert.ok(caught instanceof ConfigError);
                assert.match(caught.message, /dataplatform:kubernetes\.namespace = \(not set\): the default namespace dataplatform-Dev_1 is not a DNS label .*; set kubernetes\.namespace/);
            });
            it("a storage class that is not a Kubernetes name", () => rejects(k8s({ storageClass: "Fast SSD" }), /dataplatform:kubernetes\.storageClass = "Fast SSD": expected a DNS subdomain/));
            it("registry credentials without a password", () => rejects(k8s({ registryAuth: { username: "ci" } }), /dataplatform:kubernetes\.registryAuth\.password = \(not set\)/));
            it("an ingress without its controller's namespace", () =>
                rejects(k8s({ ingress: { className: "traefik", baseDomain: "data.example" } }), /dataplatform:kubernetes\.ingress\.controllerNamespace = \(not set\)/));
            it("an unknown key, listing the allowed ones", () => rejects(k8s({ nameSpace: "x" }), /dataplatform:kubernetes\.nameSpace = "x": unknown key; allowed: cluster, namespace, context, kubeconfig, storageClass, registry, registryAuth, ingress/));
            it("kubernetes keys on docker", () => rejects({ kubernetes: '{"namespace": "data"}' }, /dataplatform:kubernetes = \{"namespace":"data"\}: applies only when platform is kubernetes/));
            it("a bind address, which port-forward does not use", () => rejects({ ...k8s({}), bindAddress: "0.0.0.0" }, /dataplatform:bindAddress = "0\.0\.0\.0": not used on kubernetes/));
            it("resolves the namespace and takes kubernetes:context and kubernetes:kubeconfig when its own keys are unset", () => {
                const cfg = parse({ ...k8s({}), "kubernetes:context": "kind-dataplatform", "kubernetes:kubeconfig": "/home/me/.kube/kind" });
                assert.deepEqual(cfg.kubernetes, { cluster: "existing", registry: "localhost:5001", namespace: "dataplatform-test", context: "kind-dataplatform", kubeconfig: "/home/me/.kube/kind" });
                assert.equal(parse({ ...k8s({ context: "mine" }), "kubernetes:context": "other" }).kubernetes!.context, "mine");
            });
            it("needs no registry when no tier builds an image", () =>
                assert.equal(parse({ platform: "kubernetes", tiers: '{"flink": false, "superset": false, "pipeline": false}' }).kubernetes!.namespace, "dataplatform-test"));
        });
        it("every problem at once", () => {
            const err = rejects({ platform: "podman", kafka: '{"brokers": 10}', extra: "1" });
            assert.equal(err.problems.length, 3);
        });
    });

    it("registers no resource when the config is bad", async () => {
        resetResources();
        setConfig({ objectStore: "s3" });
        assert.throws(() => program(), ConfigError);
        assert.deepEqual(await resources(), []);
    });
});
