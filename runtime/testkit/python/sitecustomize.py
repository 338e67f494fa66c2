"""Fixes to moto 5.2.5, loaded (through PYTHONPATH) by every moto server `testkit::Moto` and
`.ci/local-up` start; nothing else imports it.

1. moto's signature check of the Rust SDK's form bodies (below).
2. AccessDenied in the shape of the request's protocol (below).
3. An emulation of CloudFormation's resource import, and KMS keys made by CloudFormation keeping a
   readable policy.
4. `GET /moto-api/data.json` once a Lambda function exists (near the end).
5. Without Docker, moto's own doomed attempt to run a Kinesis event source mapping, per record put,
   is skipped (near the end).
6. A Kinesis shard's put and read cost what they cost on AWS, not the number of records the shard
   holds (near the end).
7. Each request no longer lists moto's package folder to find its service (near the end).
8. `GET /moto-api/data.json?service=NAME` dumps only that service's models (at the end).

moto 5.2.5 recomputes the SigV4 signature of a query-protocol request (SNS, IAM, STS, ...) from
the form it parsed, re-encoded by Python's `urlencode`, which writes a space as `+`. The AWS SDK
for Rust sends (and signs) a space as `%20`, as AWS documents for SigV4, so every such request
with a space in a parameter (an SNS message, an e-mail subject) fails with
SignatureDoesNotMatch although AWS accepts it. Re-encoding with `quote` (space as `%20`, only
`A-Z a-z 0-9 - _ . ~` unescaped, as the SDK's `urlencoding::encode`) gives back the bytes that
were signed. Authorization itself (which credentials, which policies) is moto's, unchanged.
"""

from urllib.parse import quote, urlencode

from moto.core.exceptions import SignatureDoesNotMatchError
from moto.iam import access_control

_check_signature = access_control.IAMRequest.check_signature


def _check_signature_of_the_sent_form(self):
    try:
        _check_signature(self)
    except SignatureDoesNotMatchError:
        content_type = self._headers.get("Content-Type", "")
        if self._body or not content_type.startswith("application/x-www-form-urlencoded"):
            raise
        # The form as the Rust SDK encodes it; a botocore client's `+` passed above.
        self._body = urlencode(self._data, doseq=True, quote_via=quote).encode("utf-8")
        _check_signature(self)


access_control.IAMRequest.check_signature = _check_signature_of_the_sent_form


# moto answers a denied request of any service other than S3 with the body
# `<ErrorResponse><Errors><Error>…`, a shape neither AWS's query protocol (`<ErrorResponse><Error>…`)
# nor its JSON protocols (`{"__type": …}`, Kinesis, Secrets Manager) use: the SDK cannot read the
# code and the component's error would not say AccessDenied. The same verdict and message, in the
# shape of the request's protocol, as AWS sends it:
import json

from xmltodict import unparse

from moto.core.exceptions import AccessDeniedError


class _AccessDeniedInTheRequestsProtocol(AccessDeniedError):
    def __init__(self, user_arn, action, json_protocol):
        super().__init__(user_arn=user_arn, action=action)
        if json_protocol:
            self.error_type = "AccessDeniedException"
            self.description = json.dumps({"__type": self.error_type, "message": self.message})
            self.content_type = "application/x-amz-json-1.1"
        else:
            error = {"Type": "Sender", "Code": "AccessDenied", "Message": self.message}
            self.description = unparse({"ErrorResponse": {"Error": error}}, full_document=True)


def _raise_access_denied(self):
    content_type = self._headers.get("Content-Type", "")
    raise _AccessDeniedInTheRequestsProtocol(
        self._access_key.arn, self._action, content_type.startswith("application/x-amz-json")
    )


access_control.IAMRequest._raise_access_denied = _raise_access_denied


# CloudFormation resource import (`CreateChangeSet` with `ChangeSetType=IMPORT` and
# `ResourcesToImport`), which moto 5.2.5 does not implement: it ignores `ResourcesToImport`, reports
# each resource as `Add`, and executing the change set creates them, so a retained bucket fails
# with BucketAlreadyExists. This emulation covers what `deployer up` uses, an import into a new
# stack (the only kind it makes), and applies CloudFormation's rules for it
# (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/resource-import.html):
# every resource to import is in the template, of the type given, with a `DeletionPolicy`; the
# template has no other resource (an import creates nothing); the identifier is the type's
# (`BucketName`, `KeyId`: the types the deployer retains); the resource must exist (else the change
# set FAILS, as on AWS). Executing it binds the existing S3 bucket or KMS key to its logical id (no
# property is applied, as on AWS) and leaves the stack `IMPORT_COMPLETE`; a later update then
# modifies them as moto modifies any resource. Importing into an existing stack is refused here.
from moto.cloudformation import models as _cfn_models
from moto.cloudformation import responses as _cfn_responses
from moto.cloudformation.exceptions import ValidationError as _CfnValidationError

# The identifier CloudFormation asks for, per resource type the deployer imports.
_IMPORT_IDENTIFIERS = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::KMS::Key": "KeyId",
}


def _existing_resource(account_id, region, resource_type, identifier):
    """The moto model of the resource to import, or None when it does not exist."""
    if resource_type == "AWS::S3::Bucket":
        from moto.s3.models import s3_backends
        from moto.utilities.utils import get_partition

        return s3_backends[account_id][get_partition(region)].buckets.get(identifier)
    if resource_type == "AWS::KMS::Key":
        from moto.kms.models import kms_backends

        key = kms_backends[account_id][region].keys.get(identifier.split("/")[-1])
        return None if key is None or key.key_state == "PendingDeletion" else key
    return None


def _import_validation_error(stack_name, template, to_import):
    resources = template.get("Resources", {})
    names = {entry.get("LogicalResourceId") for entry in to_import}
    for entry in to_import:
        logical = entry.get("LogicalResourceId")
        resource = resources.get(logical)
        if resource is None:
            return f"Resource to import {logical} is not in the template"
        if resource.get("Type") != entry.get("ResourceType"):
            return f"Resource to import {logical} has type {entry.get('ResourceType')}, the template says {resource.get('Type')}"
        if "DeletionPolicy" not in resource:
            return f"The following resources to import [{logical}] must have DeletionPolicy attribute specified in the template."
        key = _IMPORT_IDENTIFIERS.get(entry.get("ResourceType"))
        if key is None:
            return f"Resource type {entry.get('ResourceType')} is not supported for import (by this emulation)"
        if list((entry.get("ResourceIdentifier") or {}).keys()) != [key]:
            return f"Resource to import {logical} must be identified by {key} alone"
    others = sorted(set(resources) - names)
    if others:
        return f"An import change set cannot create or update other resources: {others} of stack {stack_name} are not imported"
    return None


_create_change_set = _cfn_responses.CloudFormationResponse.create_change_set


def _create_change_set_with_import(self):
    if self._get_param("ChangeSetType", "CREATE") != "IMPORT":
        return _create_change_set(self)
    stack_name = self._get_param("StackName")
    backend = self.cloudformation_backend
    if any(s.name == stack_name for s in backend.stacks.values()):
        raise _CfnValidationError(
            message=f"Stack {stack_name} exists: this emulation imports only into a new stack"
        )
    to_import = self._get_param("ResourcesToImport", [])
    if not to_import:
        raise _CfnValidationError(message="ResourcesToImport is required for an IMPORT change set")
    result = _create_change_set(self)
    change_set = backend.change_sets[result.result["Id"]]
    error = _import_validation_error(stack_name, change_set.template_dict, to_import)
    if error:
        backend.change_sets.pop(change_set.change_set_id, None)
        backend.stacks.pop(change_set.stack_id, None)
        raise _CfnValidationError(message=error)
    missing = [
        e["LogicalResourceId"]
        for e in to_import
        if _existing_resource(
            backend.account_id,
            backend.region_name,
            e["ResourceType"],
            next(iter(e["ResourceIdentifier"].values())),
        )
        is None
    ]
    change_set.resources_to_import = to_import
    change_set.changes = [
        _cfn_models.Change("Import", e["LogicalResourceId"], e["ResourceType"]) for e in to_import
    ]
    if missing:
        change_set.status = "FAILED"
        change_set.execution_status = "UNAVAILABLE"
        change_set.status_reason = f"Resources {missing} do not exist and cannot be imported"
    return result


_cfn_responses.CloudFormationResponse.create_change_set = _create_change_set_with_import

_execute_change_set = _cfn_models.CloudFormationBackend.execute_change_set


def _execute_change_set_with_import(self, change_set_name, stack_name=None):
    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None
    )
    if change_set is None or change_set.change_set_type != "IMPORT":
        return _execute_change_set(self, change_set_name, stack_name)
    if change_set.execution_status != "AVAILABLE":
        raise _CfnValidationError(message=f"ChangeSet {change_set_name} cannot be executed in its current status of {change_set.status}")
    stack = self.stacks[change_set.stack_id]
    stack._add_stack_event("IMPORT_IN_PROGRESS", resource_status_reason="User Initiated")
    stack.template = change_set.template
    stack._parse_template()
    stack.resource_map = stack._create_resource_map()
    for entry in change_set.resources_to_import:
        identifier = next(iter(entry["ResourceIdentifier"].values()))
        existing = _existing_resource(self.account_id, self.region_name, entry["ResourceType"], identifier)
        stack.resource_map._parsed_resources[entry["LogicalResourceId"]] = existing
    stack.output_map = stack._create_output_map()
    stack._add_stack_event("IMPORT_COMPLETE")
    change_set.execution_status = "EXECUTE_COMPLETE"
    stack.status = "IMPORT_COMPLETE"


_cfn_models.CloudFormationBackend.execute_change_set = _execute_change_set_with_import


# A KMS key made by moto's CloudFormation keeps its `KeyPolicy` as the template's object, where
# KMS (and the rest of moto) holds the policy as JSON text: moto's `DescribeKey` then fails with
# an internal error (its policy check calls `json.loads` on it), so a kept key could not be
# described. The policy as text, as KMS stores it; the check (which only applies Deny
# statements) is moto's, unchanged.
from moto.kms.models import Key as _KmsKey

_create_key_from_cloudformation = _KmsKey.create_from_cloudformation_json.__func__


def _create_key_with_policy_text(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs):
    properties = cloudformation_json.get("Properties", {})
    if isinstance(properties.get("KeyPolicy"), dict):
        cloudformation_json = dict(cloudformation_json)
        cloudformation_json["Properties"] = dict(properties, KeyPolicy=json.dumps(properties["KeyPolicy"]))
    return _create_key_from_cloudformation(cls, resource_name, cloudformation_json, account_id, region_name, **kwargs)


_KmsKey.create_from_cloudformation_json = classmethod(_create_key_with_policy_text)
# `GET /moto-api/data.json` serializes every public attribute of every model it tracks and skips
# those that raise TypeError, AttributeError or ValueError. A Lambda function is a `DockerModel`,
# whose `docker_client` property connects to Docker: with no Docker daemon it raises
# `DockerException`, which the endpoint does not skip, so every read answers HTTP 500 once a
# function is deployed (and `deployer run`'s alert count, verify's emulator alert hop and the
# tests lose the SNS messages they read there). Without Docker the property now raises an error
# that is both: still a `DockerException` for moto's own handling (a PutRecord on a stream with an
# event source mapping makes moto try to invoke the function, catches `DockerException` and goes
# on), and an `AttributeError`, which the endpoint skips. With Docker nothing changes.
try:
    from docker.errors import DockerException
    from moto.utilities.docker_utilities import DockerModel
except ImportError:  # moto without its Docker extras: nothing to fix
    pass
else:

    class _NoDocker(DockerException, AttributeError):
        """No Docker daemon: moto's handlers see a DockerException, data.json an absent attribute."""

    _docker_client = DockerModel.docker_client

    def _docker_client_or_no_docker(self):
        try:
            return _docker_client.fget(self)
        except DockerException as e:
            raise _NoDocker(str(e)) from e

    DockerModel.docker_client = property(_docker_client_or_no_docker)


# 5. moto runs a Kinesis event source mapping itself: every record a `PutRecord`/`PutRecords` adds to
# a stream with a mapping makes moto invoke the function in Docker. Without a Docker daemon each
# attempt fails after looking for Docker again, logs "error running docker" and stores that line as
# a new CloudWatch Logs stream of the function: measured in-process, 2,000 records into a stream
# with a mapping took 38 s (52 records/s) against 1.4 s without one, so moto's Kinesis was the
# local pipeline's bottleneck. Without Docker the attempt is skipped (`deployer run` is the mapping
# locally, and nothing could have run); with Docker nothing changes. Whether Docker answers is
# asked once per moto process.
try:
    import docker as _docker
    from moto.awslambda.models import LambdaBackend as _LambdaBackend
except ImportError:  # moto without its Docker extras: it never tries
    pass
else:
    _docker_answers = None

    def _docker_is_running():
        global _docker_answers
        if _docker_answers is None:
            try:
                _docker.from_env().ping()
                _docker_answers = True
            except Exception:  # any failure to reach a daemon means no Docker
                _docker_answers = False
        return _docker_answers

    _send_kinesis_message = _LambdaBackend.send_kinesis_message

    def _send_kinesis_message_when_docker_runs(self, *args, **kwargs):
        if _docker_is_running():
            return _send_kinesis_message(self, *args, **kwargs)
        return None

    _LambdaBackend.send_kinesis_message = _send_kinesis_message_when_docker_runs


# 6. moto's Kinesis shard copies every key it holds to find its newest sequence number, once per
# record put (`list(self.records.keys())[-1]`), and a `GetRecords` scans every record from the
# shard's start to find those after the iterator. Both grow with the records the shard has ever
# held, so a stream fed 1,000 records/s slows down for as long as it runs: measured in-process,
# 1,000 puts took 0.013 s on an empty shard, 0.99 s on one holding 60,000 records and 2.3 s at
# 120,000 (one read of the 500 newest: 0.2, 3.5 and 9.9 ms). After a minute moto could no longer
# take the local pipeline's 1,000 quotes/s. The same answers, in time independent of the shard's
# size: the newest and oldest keys are read from the ends of the (insertion-ordered) dict, and a
# read starts at the key after the iterator's. Keys are the sequence numbers moto assigns, one more
# than the newest, so they rise in insertion order; a missing key is skipped as the scan would.
from moto.kinesis.models import Shard as _KinesisShard


def _newest_sequence_number(self):
    return next(reversed(self.records)) if self.records else 0


def _oldest_sequence_number(self):
    return next(iter(self.records)) if self.records else 0


def _records_after(self, last_sequence_id, limit):
    last_sequence_int = int(last_sequence_id)
    results = []
    millis_behind_latest = 0
    if limit == 0 and self.records:
        # moto's scan compares the count with the limit after each record: at 0 it stops at the
        # oldest record unless it took that one, and then never stops.
        if _oldest_sequence_number(self) <= last_sequence_int:
            return results, last_sequence_int, millis_behind_latest
        limit = None
    if self.records:
        newest = _newest_sequence_number(self)
        newest_created_at = self.records[newest].created_at
        for sequence_number in range(max(last_sequence_int + 1, _oldest_sequence_number(self)), newest + 1):
            record = self.records.get(sequence_number)
            if record is None:
                continue
            results.append(record)
            last_sequence_int = sequence_number
            millis_behind_latest = int((newest_created_at - record.created_at) * 1000)
            if len(results) == limit:
                break
    return results, last_sequence_int, millis_behind_latest


_KinesisShard.get_max_sequence_number = _newest_sequence_number
_KinesisShard.get_min_sequence_number = _oldest_sequence_number
_KinesisShard.get_records = _records_after


# 7. moto finds a request's service by first asking whether the host is the name of one of its
# modules, and `list_of_moto_modules()` answers that by listing moto's package folder and asking the
# file system, entry by entry, whether each is a folder: about 150 system calls per request, which a
# profile of the local pipeline put at 12 % of moto's time. The folder does not change while moto
# runs: it is listed once, in the same order.
import moto.backends as _moto_backends

_list_of_moto_modules = _moto_backends.list_of_moto_modules
_moto_modules = None


def _moto_modules_listed_once():
    global _moto_modules
    if _moto_modules is None:
        _moto_modules = tuple(_list_of_moto_modules())
    return iter(_moto_modules)


_moto_backends.list_of_moto_modules = _moto_modules_listed_once


# 8. `GET /moto-api/data.json` serializes every model moto tracks: each S3 object (its body read to
# try), each log event and each SNS topic. Its readers here (`deployer run`'s alert count,
# `deployer verify`'s alert hop in the emulator, the tests) only want SNS topics, and a dump's cost
# grows with everything the pipeline stored: the local pipeline's profile put its reads at 23 % of
# moto's time although they were paced. With `?service=NAME` (repeatable) the dump holds only those
# services, each exactly as in the full dump; without it, or on a moto without this fix, the answer
# is the full dump, in which the readers find the same topics.
from urllib.parse import parse_qs, urlsplit

import json as _json

from moto.core import model_instances as _model_instances
from moto.moto_api._internal.responses import MotoAPIResponse as _MotoAPIResponse

_full_model_data = _MotoAPIResponse.model_data


def _json_attributes(instance):
    """The public attributes of `instance` that serialize to JSON, as the full dump keeps them."""
    kept = {}
    for name in dir(instance):
        if name.startswith("_"):
            continue
        try:
            value = getattr(instance, name)
            _json.dumps(value)
        except (TypeError, AttributeError, ValueError):
            continue
        kept[name] = value
    return kept


def _model_data_of_services(self, request, full_url, headers):
    services = parse_qs(urlsplit(full_url).query).get("service")
    if not services:
        return _full_model_data(self, request, full_url, headers)
    tracked = _model_instances.model_data
    dump = {}
    for service in sorted(set(services) & set(tracked)):
        models = tracked[service]
        dump[service] = {
            name: [_json_attributes(i) for i in models[name].instances_tracked]
            for name in sorted(models)
        }
    return 200, {"Content-Type": "application/javascript"}, _json.dumps(dump)


_MotoAPIResponse.model_data = _model_data_of_services
