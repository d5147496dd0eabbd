/**
 * How provisioning reaches a service (components/shared/tunnel.ts) and how the topic provider sends
 * kafkajs to each broker: what needs no cluster. The tunnel itself, with the real kubectl through a
 * real API server (its errors, its timeout, its clean-up, a new kubectl after one dies), is
 * tests/k8s/tunnel.test.ts.
 */
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import { brokerRoutes, brokersOf, directBrokers, routedSocketFactory } from "../../components/kafka/topics";
import { describeReach, forwardedPort, kubectlSaid, portForwardArgs, withReach, withTunnels } from "../../components/shared/tunnel";

/** Child processes of this one, by command name: what a tunnel left running. */
function children(): string[] {
    return fs.readdirSync("/proc").filter((p) => /^\d+$/.test(p)).flatMap((pid) => {
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            const [, comm, rest] = /^\d+ \((.*)\) (.*)$/s.exec(stat)!;
            return Number(rest!.split(" ")[1]) === process.pid ? [comm!] : [];
        } catch {
            return []; // gone between listing and reading
        }
    });
}

describe("tunnel: reaching a service from where pulumi up runs", () => {
    const via = { namespace: "dataplatform-dev", context: "kind-lab", kubeconfig: "/home/me/.kube/lab" };

    it("builds the kubectl port-forward arguments: kubeconfig and context only when given, the Service, a free local port on 127.0.0.1", () => {
        assert.deepEqual(portForwardArgs("druid-router:8888", via), [
            "--kubeconfig", "/home/me/.kube/lab", "--context", "kind-lab",
            "port-forward", "-n", "dataplatform-dev", "--address", "127.0.0.1", "svc/druid-router", ":8888",
        ]);
        assert.deepEqual(portForwardArgs("kafka-1:9094", { namespace: "ns" }), ["port-forward", "-n", "ns", "--address", "127.0.0.1", "svc/kafka-1", ":9094"]);
        for (const bad of ["druid-router", ":8888", "druid-router:http", "druid-router:0", "druid-router:70000"]) {
            assert.throws(() => portForwardArgs(bad, via), new RegExp(`cannot tunnel to "${bad}": a reach through Kubernetes must be <service>:<port>`));
        }
    });

    it("names a reach by its address, and a tunnelled one by service, port, namespace, context and kubeconfig", () => {
        assert.equal(describeReach({ address: "127.0.0.1:8888" }), "127.0.0.1:8888");
        assert.equal(describeReach({ address: "druid-router:8888", via }), "svc/druid-router:8888 in namespace dataplatform-dev (context kind-lab, kubeconfig /home/me/.kube/lab)");
        assert.equal(describeReach({ address: "superset:8088", via: { namespace: "ns" } }), "svc/superset:8088 in namespace ns (the kubeconfig's current context)");
    });

    it("reads the local port from kubectl's output, and kubectl's verdict from its stderr without the klog retries", () => {
        assert.equal(forwardedPort("Forwarding from 127.0.0.1:41377 -> 8888\n"), 41377);
        assert.equal(forwardedPort("Forwarding from [::1]:41377 -> 8888\n"), undefined);
        const refused = [
            'E1127 02:16:27.498610    9224 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: connection refused"',
            'E1127 02:16:27.499935    9224 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: connection refused"',
            "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?",
        ].join("\n");
        assert.equal(kubectlSaid(refused), "The connection to the server 127.0.0.1:1 was refused - did you specify the right host or port?");
        assert.equal(kubectlSaid('E1127 02:16:27.498610 9224 portforward.go:413] "lost connection to pod"\n'), 'E1127 02:16:27.498610 9224 portforward.go:413] "lost connection to pod"');
        assert.equal(kubectlSaid(""), "");
    });

    it("hands addresses without `via` over unchanged and starts nothing (the Docker path)", async () => {
        const before = children();
        const got = await withReach([{ address: "127.0.0.1:9092" }, { address: "127.0.0.1:8888" }], async (addresses) => {
            assert.deepEqual(children(), before);
            return addresses;
        });
        assert.deepEqual(got, ["127.0.0.1:9092", "127.0.0.1:8888"]);
    });

    it("without kubectl, fails before the operation with an error naming the service, namespace and context, and where kubectl was looked for", async () => {
        let ran = false;
        const saved = process.env.KUBECTL;
        process.env.KUBECTL = "/nonexistent/bin/kubectl";
        try {
            await assert.rejects(withReach([{ address: "127.0.0.1:9092" }, { address: "superset:8088", via }], async () => (ran = true)), (e: Error) => {
                assert.equal(
                    e.message,
                    'kubectl port-forward to svc/superset:8088 in namespace dataplatform-dev (context kind-lab, kubeconfig /home/me/.kube/lab): kubectl not found (ran "/nonexistent/bin/kubectl"; set KUBECTL to its path or put it on PATH)',
                );
                return true;
            });
        } finally {
            if (saved === undefined) delete process.env.KUBECTL;
            else process.env.KUBECTL = saved;
        }
        assert.equal(ran, false);
        // Every failed open is reported, not just the first.
        await assert.rejects(
            withTunnels([{ address: "kafka-1:9094", via }, { address: "kafka-2:9094", via }], async () => undefined, { kubectl: "/nonexistent/bin/kubectl" }),
            /svc\/kafka-1:9094 .*kubectl not found[^\n]*\n.*svc\/kafka-2:9094 .*kubectl not found/,
        );
        assert.deepEqual(children().filter((c) => c === "kubectl"), []);
    });
});

describe("topics: kafkajs is sent to each broker's reach", () => {
    it("routes each broker's advertised address, and the local address itself, to that broker's local end", () => {
        const brokers = [
            { reach: { address: "kafka-1:9094", via: { namespace: "ns" } }, advertised: "127.0.0.1:9092" },
            { reach: { address: "kafka-2:9094", via: { namespace: "ns" } }, advertised: "127.0.0.1:9093" },
        ];
        assert.deepEqual([...brokerRoutes(brokers, ["127.0.0.1:41001", "127.0.0.1:41002"])], [
            ["127.0.0.1:9092", "127.0.0.1:41001"],
            ["127.0.0.1:41001", "127.0.0.1:41001"],
            ["127.0.0.1:9093", "127.0.0.1:41002"],
            ["127.0.0.1:41002", "127.0.0.1:41002"],
        ]);
        // On Docker the reach is the advertised address: every route leads to itself.
        assert.deepEqual([...brokerRoutes(directBrokers("127.0.0.1:9092"), ["127.0.0.1:9092"])], [["127.0.0.1:9092", "127.0.0.1:9092"]]);
    });

    it("reads the brokers of state written before reaches from its bootstrap list", () => {
        const content = { name: "t", partitions: 1, replicationFactor: 1, config: {} };
        assert.deepEqual(brokersOf({ ...content, bootstrap: "127.0.0.1:9092,127.0.0.1:9093" } as never), [
            { reach: { address: "127.0.0.1:9092" }, advertised: "127.0.0.1:9092" },
            { reach: { address: "127.0.0.1:9093" }, advertised: "127.0.0.1:9093" },
        ]);
        const brokers = [{ reach: { address: "kafka-1:9094", via: { namespace: "ns" } }, advertised: "127.0.0.1:9092" }];
        assert.equal(brokersOf({ ...content, brokers, bootstrap: "127.0.0.1:1" }), brokers, "brokers win over a stale bootstrap");
        assert.throws(() => brokersOf({ ...content } as never), /topic t: the state has neither brokers nor a bootstrap address/);
    });

    it("connects a socket for an advertised address to its route, and fails one without a route naming it", async () => {
        const server = net.createServer((s) => s.end("hello"));
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        const local = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
        try {
            const factory = routedSocketFactory(brokerRoutes([{ reach: { address: "kafka-1:9094", via: { namespace: "ns" } }, advertised: "127.0.0.1:9092" }], [local]));
            const greeting = await new Promise<string>((resolve, reject) => {
                let connected = false;
                const socket = factory({ host: "127.0.0.1", port: 9092, ssl: null as never, onConnect: () => (connected = true) });
                let got = "";
                socket.on("data", (d) => (got += d.toString()));
                socket.on("end", () => (connected ? resolve(got) : reject(new Error("onConnect was not called"))));
                socket.on("error", reject);
            });
            assert.equal(greeting, "hello");

            const refused = await new Promise<Error>((resolve) => {
                const socket = factory({ host: "10.0.0.9", port: 9092, ssl: null as never, onConnect: () => undefined });
                socket.on("error", resolve);
            });
            assert.equal(refused.message, `broker 10.0.0.9:9092 is not one of the brokers this topic reaches (127.0.0.1:9092, ${local})`);
        } finally {
            server.close();
        }
    });
});
