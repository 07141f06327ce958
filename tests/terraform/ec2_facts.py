"""What the fake EC2 API holds, as JSON on stdout: run by the tools' Python (boto3) inside
the tier's namespace. Usage: ec2_facts.py ENDPOINT

{"instances": {NAME: {"state", "role", "private_ip", "groups", "user_data"}},
 "groups": {NAME: [{"ports": [FROM, TO], "from_groups": [NAME...], "cidrs": [...]}]},
 "vpcs": [CIDR...]}
"""
import base64
import json
import sys

import boto3


def main(endpoint):
    ec2 = boto3.client("ec2", endpoint_url=endpoint)
    group_names = {group["GroupId"]: group["GroupName"] for group in ec2.describe_security_groups()["SecurityGroups"]}
    groups = {
        group["GroupName"]: [{
            "ports": [permission.get("FromPort"), permission.get("ToPort")],
            "from_groups": sorted(group_names[pair["GroupId"]] for pair in permission.get("UserIdGroupPairs", [])),
            "cidrs": sorted(cidr["CidrIp"] for cidr in permission.get("IpRanges", [])),
        } for permission in group["IpPermissions"]]
        for group in ec2.describe_security_groups()["SecurityGroups"]
    }
    instances = {}
    for reservation in ec2.describe_instances()["Reservations"]:
        for instance in reservation["Instances"]:
            tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags", [])}
            user_data = ec2.describe_instance_attribute(
                InstanceId=instance["InstanceId"], Attribute="userData")["UserData"].get("Value")
            instances[tags.get("Name", instance["InstanceId"])] = {
                "state": instance["State"]["Name"],
                "role": tags.get("Role"),
                "appliance": tags.get("Appliance"),
                "private_ip": instance.get("PrivateIpAddress"),
                # In a VPC the groups are the network interface's (moto leaves the
                # instance's own list empty).
                "groups": sorted({group["GroupName"] for interface in instance["NetworkInterfaces"]
                                  for group in interface["Groups"]}),
                "user_data": base64.b64decode(user_data).decode() if user_data else None,
            }
    vpcs = [vpc["CidrBlock"] for vpc in ec2.describe_vpcs()["Vpcs"]]
    json.dump({"instances": instances, "groups": groups, "vpcs": vpcs}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
