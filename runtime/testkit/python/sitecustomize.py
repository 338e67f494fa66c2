"""Fixes to moto 5.2.5, loaded (through PYTHONPATH) by every moto server `testkit::Moto` and
`.ci/local-up` start; nothing else imports it. None changes a verdict or a stored value.

1. moto's signature check of the Rust SDK's form bodies (below).
2. AccessDenied in the shape of the request's protocol (below).
3. `GET /moto-api/data.json` once a Lambda function exists (at the end).

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
