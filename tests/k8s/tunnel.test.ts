/**
 * Provisioning tunnels (components/shared/tunnel.ts) with the real kubectl through a real API
 * server: the topic provider creates, reads and deletes a topic on the real Kafka engine through
 * `kubectl port-forward svc/kafka-1`, exactly as on a private cluster. kwok plays the broker's pod:
 * its PortForward object sends the pod's port to the Kafka engine on this host (see
 * port-forward.test.ts), so the bytes go kubectl -> API server -> kwok's kubelet -> Kafka.
 * Also: kubectl's own errors, the timeout, no kubectl left running, a new kubectl after one dies.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { TopicProvider, type TopicState } from "../../components/kafka/topics";
import type { KubernetesVia, Reach } from "../../components/platform/types";
import { withReach, withTunnels } from "../../components/shared/tunnel";
import { procStat, waitUntil } from "../engines/lib";
import { engine, stateFile } from "../engines/state";
import { type Cluster, clusterOf } from "./api";
import { connectionsDuring, kubectls, namespaceReady, serviceOnEngine } from "./fake-service";

/** A kafkajs admin on `address` (a tunnel's local end) asked for the topic list: a real request through it. */
async function listTopics(address: string): Promise<string[]> {
    const admin = new Kafka({ clientId: "tunnel-k8s", brokers: [address], logLevel: logLevel.NOTHING, retry: { retries: 2 } }).admin();
    await admin.connect();
    try {
        return await admin.listTopics();
    } finally {
        await admin.disconnect();
    }
}

describe("provisioning tunnels through a real API server (kubectl port-forward to kwok pods)", function () {
    const namespace = `tunnel-${Date.now().toString(36)}`;
    let cluster: Cluster;
    let via: KubernetesVia;
    let broker: Reach;
    let advertised: string;
    const savedKubectl = process.env.KUBECTL;

    before(async () => {
        const k = engine("kubernetes");
        cluster = clusterOf(k);
        // The kubectl built with the control plane, as a user's KUBECTL would name theirs.
        process.env.KUBECTL = k.details.kubectl!;
        via = { namespace, kubeconfig: k.details.kubeconfig! };
        advertised = engine("kafka").endpoints.bootstrap!;
        broker = { address: "kafka-1:9094", via };

        await namespaceReady(cluster, namespace);
        // The broker's Service as the Kubernetes platform names it: kafka-1, the HOST listener's port.
        await serviceOnEngine(cluster, namespace, "kafka-1", 9094, Number(advertised.slice(advertised.lastIndexOf(":") + 1)));
        // kwok picks the PortForward up from a watch: the first connections may find no rule yet.
        await waitUntil("Kafka answering through the tunnel", () => withReach([broker], async ([address]) => (await listTopics(address!)).length >= 0), { timeoutMs: 120_000, intervalMs: 1_000 });
    });

    after(() => {
        if (savedKubectl === undefined) delete process.env.KUBECTL;
        else process.env.KUBECTL = savedKubectl;
    });

    afterEach(() => assert.deepEqual(kubectls(), [], "a kubectl is still running"));

    it("creates, reads, updates and deletes a topic through the tunnel, kafkajs sent from the advertised address to the tunnel", async () => {
        const provider = new TopicProvider();
        const state: TopicState = {
            brokers: [{ reach: broker, advertised }],
            name: `tunnelled-${randomUUID().slice(0, 8)}`,
            partitions: 2,
            replicationFactor: 1,
            config: { "retention.ms": "3600000" },
        };
        // The broker is also reachable directly here: watch that kafkajs never goes around the tunnel.
        const around = await connectionsDuring(Number(advertised.slice(advertised.lastIndexOf(":") + 1)), async () => {
            await provider.create(state);
            const read = await provider.read(state.name, state);
            assert.deepEqual([read.props!.partitions, read.props!.config], [2, { "retention.ms": "3600000" }]);
            await provider.update(state.name, state, { ...state, partitions: 3 });
            assert.equal((await provider.read(state.name, state)).props!.partitions, 3);
        });
        assert.equal(around, 0, "kafkajs connected to the broker's advertised address directly");
        // Seen directly on the broker: the topic is real.
        assert.ok((await listTopics(advertised)).includes(state.name));
        await provider.delete(state.name, state);
        assert.ok(!(await listTopics(advertised)).includes(state.name));
    });

    it("ends kubectl when the operation throws, and says what the local address stood for", async () => {
        let running: number[] = [];
        await assert.rejects(
            withReach([broker], async ([address]) => {
                running = kubectls();
                await listTopics(address!);
                throw new Error(`the operation failed at ${address}`);
            }),
            (e: Error) => {
                assert.match(e.message, new RegExp(`^the operation failed at 127\\.0\\.0\\.1:(\\d+) \\[127\\.0\\.0\\.1:\\1 is a kubectl port-forward to svc/kafka-1:9094 in namespace ${namespace} \\(the kubeconfig's current context, kubeconfig .*\\)\\]$`));
                return true;
            },
        );
        assert.equal(running.length, 1, "one kubectl while the operation ran");
        assert.equal(procStat(running[0]!), undefined, "that kubectl is gone");
    });

    it("tunnels with a kubeconfig given as content (a cluster the stack created), through a private file that is gone afterwards", async () => {
        const content = fs.readFileSync(via.kubeconfig!, "utf8");
        const inline: Reach = { address: "kafka-1:9094", via: { namespace, kubeconfigData: content } };
        let file: string | undefined;
        const topics = await withReach([inline], async ([address]) => {
            const [pid] = kubectls();
            const args = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
            file = args[args.indexOf("--kubeconfig") + 1];
            assert.ok(file && file !== via.kubeconfig, `kubectl runs on a file of its own: ${args.join(" ")}`);
            assert.equal(fs.readFileSync(file, "utf8"), content);
            assert.equal(fs.statSync(file).mode & 0o777, 0o600, "readable by this user alone");
            return listTopics(address!);
        });
        assert.ok(Array.isArray(topics));
        assert.equal(fs.existsSync(file!), false, "the file is removed with the tunnel");
    });

    it("starts a new kubectl when the one behind the tunnel dies, at the same local address", async () => {
        await withReach([broker], async ([address]) => {
            await listTopics(address!);
            const [first] = kubectls();
            // What happens when the pod behind it restarts: kubectl port-forward exits.
            process.kill(first!, "SIGKILL");
            await waitUntil("kubectl gone", async () => !kubectls().includes(first!), { timeoutMs: 10_000, intervalMs: 100 });
            assert.ok(Array.isArray(await listTopics(address!)), "a request through the same address after kubectl died");
            const now = kubectls();
            assert.equal(now.length, 1);
            assert.notEqual(now[0], first);
        });
    });

    it("fails with kubectl's own reason, naming the service, namespace and context: no such service, no such context", async () => {
        await assert.rejects(withReach([{ address: "kafka-9:9094", via }], async () => "never"), (e: Error) => {
            assert.match(e.message, new RegExp(`^kubectl port-forward to svc/kafka-9:9094 in namespace ${namespace} \\(the kubeconfig's current context, kubeconfig .*\\) failed \\(kubectl exited with 1\\): .*services "kafka-9" not found`));
            return true;
        });
        await assert.rejects(withReach([broker, { address: "kafka-1:9094", via: { ...via, context: "elsewhere" } }], async () => "never"), (e: Error) => {
            assert.match(e.message, new RegExp(`^kubectl port-forward to svc/kafka-1:9094 in namespace ${namespace} \\(context elsewhere, kubeconfig .*\\) failed \\(kubectl exited with 1\\): error: context "elsewhere" does not exist$`));
            return true;
        });
    });

    it("gives up on a forward that does not come up in time, and leaves no kubectl behind", async () => {
        // A kubeconfig whose auth plugin never answers (an SSO login nobody completes): kubectl waits for ever.
        const k = engine("kubernetes");
        const kubeconfig = path.join(path.dirname(stateFile()), `tunnel-hanging-${namespace}.yaml`);
        fs.writeFileSync(kubeconfig, [
            "apiVersion: v1",
            "kind: Config",
            "clusters: [{name: c, cluster: {server: " + JSON.stringify(k.endpoints.url!) + ", certificate-authority: " + JSON.stringify(k.details.caFile!) + "}}]",
            "contexts: [{name: c, context: {cluster: c, user: u}}]",
            "current-context: c",
            "users:",
            "- name: u",
            "  user:",
            "    exec:",
            "      apiVersion: client.authentication.k8s.io/v1",
            "      interactiveMode: Never",
            "      command: sh",
            // Ends with its kubectl, so nothing outlives the test.
            '      args: ["-c", "exec tail --pid=$PPID -f /dev/null"]',
            "",
        ].join("\n"));
        const t0 = Date.now();
        await assert.rejects(withTunnels([{ address: "kafka-1:9094", via: { namespace, kubeconfig } }], async () => "never", { upWithinMs: 3_000 }), (e: Error) => {
            assert.match(e.message, new RegExp(`^kubectl port-forward to svc/kafka-1:9094 in namespace ${namespace} .* did not start forwarding within 3 s; kubectl said: `));
            return true;
        });
        assert.ok(Date.now() - t0 < 15_000, `gave up after ${Date.now() - t0} ms`);
    });
});
