import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";

export interface NetworkArgs {
    availabilityZones: number;
    natGateways: "single" | "perZone";
}

export interface Network {
    vpc: aws.ec2.Vpc;
    zones: pulumi.Output<string[]>;
    publicSubnets: aws.ec2.Subnet[];
    privateSubnets: aws.ec2.Subnet[];
    natGateways: aws.ec2.NatGateway[];
}

/**
 * The address plan. Private subnets are /18s because the VPC CNI gives every pod a VPC address
 * and keeps warm ENIs' addresses in reserve; public subnets only hold NAT gateways and load
 * balancers, so /22s do.
 */
export const vpcCidr = "10.0.0.0/16";
export const privateCidr = (zone: number) => `10.0.${zone * 64}.0/18`;
export const publicCidr = (zone: number) => `10.0.${192 + zone * 4}.0/22`;

export function createNetwork(name: string, args: NetworkArgs, opts: pulumi.CustomResourceOptions & pulumi.InvokeOptions): Network {
    const { parent, provider } = opts;
    // Opted-in zones (Local and Wavelength Zones) lack instance types and EKS support.
    const available = aws.getAvailabilityZonesOutput({ state: "available", filters: [{ name: "opt-in-status", values: ["opt-in-not-required"] }] }, { parent, provider });
    const zones = available.names.apply((names) => {
        if (names.length < args.availabilityZones) {
            throw new Error(`eks.availabilityZones is ${args.availabilityZones}, but the region offers ${names.length} (${names.join(", ")})`);
        }
        return names.slice(0, args.availabilityZones);
    });

    // DNS hostnames and support: nodes reach the private API endpoint through the VPC's resolver.
    const vpc = new aws.ec2.Vpc(name, { cidrBlock: vpcCidr, enableDnsHostnames: true, enableDnsSupport: true, tags: { Name: name } }, opts);
    const igw = new aws.ec2.InternetGateway(name, { vpcId: vpc.id, tags: { Name: name } }, opts);

    const publicRoutes = new aws.ec2.RouteTable(`${name}-public`, { vpcId: vpc.id, tags: { Name: `${name}-public` } }, opts);
    new aws.ec2.Route(`${name}-public-internet`, { routeTableId: publicRoutes.id, destinationCidrBlock: "0.0.0.0/0", gatewayId: igw.id }, opts);

    const publicSubnets: aws.ec2.Subnet[] = [];
    const privateSubnets: aws.ec2.Subnet[] = [];
    const natGateways: aws.ec2.NatGateway[] = [];
    for (let i = 0; i < args.availabilityZones; i++) {
        const zone = zones.apply((z) => z[i]!);
        const pub = new aws.ec2.Subnet(
            `${name}-public-${i}`,
            {
                vpcId: vpc.id,
                cidrBlock: publicCidr(i),
                availabilityZone: zone,
                // Nothing in these subnets needs an address of its own: NAT gateways take an Elastic IP, load balancers get theirs.
                mapPublicIpOnLaunch: false,
                tags: { Name: `${name}-public-${i}`, "kubernetes.io/role/elb": "1" },
            },
            opts,
        );
        new aws.ec2.RouteTableAssociation(`${name}-public-${i}`, { subnetId: pub.id, routeTableId: publicRoutes.id }, opts);
        publicSubnets.push(pub);

        if (i === 0 || args.natGateways === "perZone") {
            const eip = new aws.ec2.Eip(`${name}-nat-${i}`, { domain: "vpc", tags: { Name: `${name}-nat-${i}` } }, opts);
            natGateways.push(new aws.ec2.NatGateway(`${name}-${i}`, { allocationId: eip.id, subnetId: pub.id, tags: { Name: `${name}-${i}` } }, { ...opts, dependsOn: [igw] }));
        }

        const priv = new aws.ec2.Subnet(
            `${name}-private-${i}`,
            { vpcId: vpc.id, cidrBlock: privateCidr(i), availabilityZone: zone, tags: { Name: `${name}-private-${i}`, "kubernetes.io/role/internal-elb": "1" } },
            opts,
        );
        // A route table per zone even with one NAT: switching natGateways then changes routes, not subnets.
        const routes = new aws.ec2.RouteTable(`${name}-private-${i}`, { vpcId: vpc.id, tags: { Name: `${name}-private-${i}` } }, opts);
        const nat = args.natGateways === "perZone" ? natGateways[i]! : natGateways[0]!;
        new aws.ec2.Route(`${name}-private-${i}-egress`, { routeTableId: routes.id, destinationCidrBlock: "0.0.0.0/0", natGatewayId: nat.id }, opts);
        new aws.ec2.RouteTableAssociation(`${name}-private-${i}`, { subnetId: priv.id, routeTableId: routes.id }, opts);
        privateSubnets.push(priv);
    }
    return { vpc, zones, publicSubnets, privateSubnets, natGateways };
}
