"""``proxy.conf``: the ``[proxy]`` section, ``[auth]``'s users and reseller
prefixes (``proxy.auth``), and one section per optional pipeline feature
(``[bulk]``, ``[cors]``...)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from martlet.config import ConfigFile, load_config, resolve_relative
from martlet.cluster import ClusterConfig, load_cluster_config
from martlet.errors import ConfigError
from martlet.serve import ClientLimits

from proxy.auth import Resellers, UserTable, parse_resellers, parse_users

GIB = 1 << 30


@dataclass(frozen=True)
class ProxySection:
    """``[proxy]`` of proxy.conf; each default is Swift's where Swift has one."""

    bind_ip: str = "127.0.0.1"
    bind_port: int = field(default=8080, metadata={"min": 0})
    workers: int = field(default=1, metadata={"min": 1})
    cluster_conf: str = "martlet.conf"
    log_level: str = "INFO"
    conn_timeout: float = field(default=0.5, metadata={"min": 0.01})
    node_timeout: float = field(default=10.0, metadata={"min": 0.01})
    # A client that stops sending a body for this long is dropped (499); its
    # request line and headers must arrive within as long.
    client_timeout: float = field(default=60.0, metadata={"min": 0.01})
    # Bytes of the request line and of each header line; headers per
    # request; connections served at once by each worker.
    max_header_size: int = field(default=8192, metadata={"min": 1024})
    max_header_count: int = field(default=200, metadata={"min": 100})
    max_clients: int = field(default=1024, metadata={"min": 1})
    token_life: int = field(default=86400, metadata={"min": 1})
    max_file_size: int = field(default=5 * GIB, metadata={"min": 1})
    # Error limiting: this many errors within the interval (seconds), or one
    # 507, and a node is skipped for the interval.
    error_suppression_limit: int = field(default=10, metadata={"min": 1})
    error_suppression_interval: float = field(default=60.0, metadata={"min": 0.0})
    # How long a container's existence and ACLs are cached (seconds).
    recheck_container_existence: float = field(default=10.0, metadata={"min": 0.0})
    ring_check_interval: float = field(default=15.0, metadata={"min": 0.0})
    # Bytes read from a client or a backend at a time.
    chunk_size: int = field(default=1024 * 1024, metadata={"min": 1024})
    # Static large objects: segments per manifest, bytes of a manifest PUT,
    # nesting of SLOs inside SLOs, and segment HEADs/DELETEs in flight.
    max_manifest_segments: int = field(default=1000, metadata={"min": 1})
    max_manifest_size: int = field(default=8 * 1024 * 1024, metadata={"min": 1024})
    max_slo_recursion_depth: int = field(default=10, metadata={"min": 1})
    slo_concurrency: int = field(default=4, metadata={"min": 1})
    # A manifest PUT with ?heartbeat=on sends a space this often (seconds)
    # while its segments are checked (Swift's yield_frequency).
    slo_yield_frequency: int = field(default=10, metadata={"min": 1})


    def client_limits(self) -> ClientLimits:
        return ClientLimits(self.client_timeout, self.max_header_size, self.max_header_count, self.max_clients)


@dataclass(frozen=True)
class ProxyConfig:
    path: str
    proxy: ProxySection
    users: UserTable
    cluster: ClusterConfig
    resellers: Resellers = Resellers()
    features: FeatureSections = field(default_factory=lambda: FeatureSections())
    # [s3api] access_ lines (``s3_access_keys``): access key -> (user, secret).
    s3_access_keys: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def proxy_config_from(config: ConfigFile) -> ProxyConfig:
    section = config.section("proxy", ProxySection)
    cluster = load_cluster_config(resolve_relative(config, section.cluster_conf))
    if not cluster.secret:
        raise ConfigError(f"{cluster.path}: [cluster] secret must be set to sign auth tokens")
    if config.value("proxy", "reseller_prefix") is not None:
        raise ConfigError(f"{config.path}: [proxy] reseller_prefix has moved to [auth]")
    auth = config.raw("auth")
    where = f"{config.path}: [auth]"
    users = parse_users(auth, where=where)
    return ProxyConfig(path=config.path, proxy=section, users=users, cluster=cluster,
                       resellers=parse_resellers(auth, where=where), features=feature_sections(config),
                       s3_access_keys=s3_access_keys(config, users))


def load_proxy_config(path: str | None) -> ProxyConfig:
    return proxy_config_from(load_config(path))


# --- Optional pipeline features (proxy.app.FEATURES) ------------------------
# Each is off unless its section says ``enabled = true`` (``martlet dev`` and
# ``martlet ring-init`` write them on); the pipeline's order is the code's,
# not the operator's, because it decides what each feature sees. Defaults
# of the other keys are Swift's.


@dataclass(frozen=True)
class BulkSection:
    """``[bulk]``: ``?bulk-delete`` and ``?extract-archive`` (``proxy.bulk``)."""

    enabled: bool = False
    max_deletes_per_request: int = field(default=10000, metadata={"min": 1})
    # A bulk delete stops after this many failed items.
    max_failed_deletes: int = field(default=1000, metadata={"min": 1})
    # Deletes in flight at once.
    delete_concurrency: int = field(default=2, metadata={"min": 1})
    max_containers_per_extraction: int = field(default=10000, metadata={"min": 1})
    # An extraction stops after this many failed files.
    max_failed_extractions: int = field(default=1000, metadata={"min": 1})
    # Seconds between the whitespace a long bulk request sends to keep its
    # client from timing out (the status is in the body, sent last).
    yield_frequency: float = field(default=10.0, metadata={"min": 0.1})


@dataclass(frozen=True)
class AccountQuotasSection:
    """``[account_quotas]``: ``X-Account-Quota-Bytes/-Count`` set by a reseller admin."""

    enabled: bool = False


@dataclass(frozen=True)
class ContainerQuotasSection:
    """``[container_quotas]``: ``X-Container-Meta-Quota-Bytes/-Count``."""

    enabled: bool = False


@dataclass(frozen=True)
class EtagQuoterSection:
    """``[etag_quoter]``: RFC 7232 quoted ETags where an account or container asks."""

    enabled: bool = False
    # Quote ETags where neither the container nor the account says.
    enable_by_default: bool = False


@dataclass(frozen=True)
class CorsSection:
    """``[cors]``: cross-origin requests (``proxy.cors``)."""

    enabled: bool = False
    # Origins allowed in every container, besides each container's own
    # X-Container-Meta-Access-Control-Allow-Origin.
    allow_origin: tuple[str, ...] = ()
    # Headers exposed on every CORS answer, besides Swift's list.
    expose_headers: tuple[str, ...] = ()
    # Only allowed origins get Access-Control-* headers on actual requests.
    strict_cors_mode: bool = True


@dataclass(frozen=True)
class VersionedWritesSection:
    """``[versioned_writes]``: ``X-Versions-Location`` / ``X-History-Location``
    (``proxy.versioned_writes``)."""

    enabled: bool = False


@dataclass(frozen=True)
class ObjectVersioningSection:
    """``[object_versioning]``: ``X-Versions-Enabled`` containers, versions
    kept in hidden containers (``proxy.object_versioning``; needs ``[symlink]``)."""

    enabled: bool = False


@dataclass(frozen=True)
class SymlinkSection:
    """``[symlink]``: ``X-Symlink-Target`` links (``proxy.symlink``)."""

    enabled: bool = False
    # Links a read follows before it answers 409.
    symloop_max: int = field(default=2, metadata={"min": 1})


@dataclass(frozen=True)
class StaticwebSection:
    """``[staticweb]``: containers served as web sites (``proxy.staticweb``)."""

    enabled: bool = False


@dataclass(frozen=True)
class TempurlSection:
    """``[tempurl]``: temporary URLs signed with an account's or container's
    ``Temp-URL-Key`` (``proxy.tempurl``). Lists are comma- or space-separated;
    a header name ending in ``*`` is a prefix."""

    enabled: bool = False
    # The methods a temp URL may be signed for.
    methods: tuple[str, ...] = ("GET", "HEAD", "PUT", "POST", "DELETE")
    # Request headers dropped from a temp URL request, unless allowed.
    incoming_remove_headers: tuple[str, ...] = ("x-timestamp", "x-open-expired")
    incoming_allow_headers: tuple[str, ...] = ()
    # Answer headers dropped from a temp URL's answer, unless allowed.
    outgoing_remove_headers: tuple[str, ...] = ("x-object-meta-*",)
    outgoing_allow_headers: tuple[str, ...] = ("x-object-meta-public-*",)
    # HMAC digests a signature may use (of sha1, sha256, sha512).
    allowed_digests: tuple[str, ...] = ("sha1", "sha256", "sha512")


@dataclass(frozen=True)
class FormpostSection:
    """``[formpost]``: browser form uploads signed with a ``Temp-URL-Key``
    (``proxy.formpost``)."""

    enabled: bool = False
    # HMAC digests a form's signature may use (of sha1, sha256, sha512).
    allowed_digests: tuple[str, ...] = ("sha1", "sha256", "sha512")


@dataclass(frozen=True)
class S3apiSection:
    """``[s3api]``: the S3 API (``proxy.s3api``). Besides these keys,
    ``access_<access key> = <account>:<user> <secret>`` lines add key
    pairs (``s3_access_keys``); every [auth] user also signs as
    ``<account>:<user>`` with its key, as with Swift's s3api and tempauth."""

    enabled: bool = False
    # The region clients sign for and GetBucketLocation answers.
    location: str = "us-east-1"
    # Host names under which <bucket>.<domain> is virtual-hosted style.
    storage_domain: tuple[str, ...] = ()
    # Seconds a header signature's date may be off the proxy's clock.
    max_clock_skew: float = field(default=900.0, metadata={"min": 1.0})
    # Keys per ListObjects page; parts per ListParts; keys per DeleteObjects.
    max_bucket_listing: int = field(default=1000, metadata={"min": 1})
    max_parts_listing: int = field(default=1000, metadata={"min": 1})
    max_multi_delete_objects: int = field(default=1000, metadata={"min": 1})
    # Parts of a multipart upload, and the smallest part but the last.
    max_upload_part_num: int = field(default=1000, metadata={"min": 1})
    min_segment_size: int = field(default=5 * 1024 * 1024, metadata={"min": 1})


@dataclass(frozen=True)
class FeatureSections:
    bulk: BulkSection = BulkSection()
    account_quotas: AccountQuotasSection = AccountQuotasSection()
    container_quotas: ContainerQuotasSection = ContainerQuotasSection()
    etag_quoter: EtagQuoterSection = EtagQuoterSection()
    cors: CorsSection = CorsSection()
    versioned_writes: VersionedWritesSection = VersionedWritesSection()
    object_versioning: ObjectVersioningSection = ObjectVersioningSection()
    symlink: SymlinkSection = SymlinkSection()
    staticweb: StaticwebSection = StaticwebSection()
    tempurl: TempurlSection = TempurlSection()
    formpost: FormpostSection = FormpostSection()
    s3api: S3apiSection = S3apiSection()

    def enabled(self) -> frozenset[str]:
        """The names of the sections that switch their feature on."""
        return frozenset(f.name for f in fields(self) if getattr(self, f.name).enabled)


def s3_access_keys(config: ConfigFile, users: UserTable) -> dict[str, tuple[str, str]]:
    """``[s3api]``'s ``access_<access key> = <account>:<user> <secret>``
    lines, each naming a user of ``[auth]``: lower-cased access key ->
    (user, secret) (the ini reader lowercases option names, so these
    access keys are matched case-insensitively)."""
    keys: dict[str, tuple[str, str]] = {}
    for option, value in config.raw("s3api").items():
        if not option.startswith("access_"):
            continue
        words = value.split()
        where = f"{config.path}: [s3api] {option}"
        if option == "access_" or len(words) != 2:
            raise ConfigError(f"{where}: expected access_<access key> = <account>:<user> <secret>")
        if words[0] not in users:
            raise ConfigError(f"{where}: {words[0]} is no user of [auth]")
        keys[option[len("access_"):].lower()] = (words[0], words[1])
    return keys


def feature_sections(config: ConfigFile) -> FeatureSections:
    return FeatureSections(
        s3api=config.section("s3api", S3apiSection),
        bulk=config.section("bulk", BulkSection),
        account_quotas=config.section("account_quotas", AccountQuotasSection),
        container_quotas=config.section("container_quotas", ContainerQuotasSection),
        etag_quoter=config.section("etag_quoter", EtagQuoterSection),
        cors=config.section("cors", CorsSection),
        versioned_writes=config.section("versioned_writes", VersionedWritesSection),
        object_versioning=config.section("object_versioning", ObjectVersioningSection),
        symlink=config.section("symlink", SymlinkSection),
        staticweb=config.section("staticweb", StaticwebSection),
        tempurl=config.section("tempurl", TempurlSection),
        formpost=config.section("formpost", FormpostSection),
    )
