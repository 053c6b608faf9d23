# martlet: one image for every role (storage node, proxy, ring-init); the
# compose file picks the role with the command, e.g. `node --config ...`.
#
# Builds on the official Python slim image and on a plain Debian image with
# python3 and pip alike: everything goes through `python3 -m pip` (no `pip`
# or `python` on PATH needed), and PIP_BREAK_SYSTEM_PACKAGES lets pip
# install into a Debian python3 that marks itself externally managed
# (PEP 668; this image is its only user). The `martlet` command ends up in
# /usr/local/bin either way.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    PIP_BREAK_SYSTEM_PACKAGES=1

# A fixed uid/gid, so volumes keep the same owner across image rebuilds.
RUN groupadd --system --gid 10001 martlet \
 && useradd --system --uid 10001 --gid martlet --home-dir /var/lib/martlet --shell /usr/sbin/nologin martlet

# Dependencies (and the build backend) first, in their own layer: a code
# change rebuilds only the layers below, without reaching the network.
WORKDIR /src
COPY pyproject.toml README.md ./
RUN python3 -c 'import tomllib; p = tomllib.load(open("pyproject.toml", "rb")); print("\n".join(p["build-system"]["requires"] + p["project"]["dependencies"]))' \
      > /tmp/requirements.txt \
 && python3 -m pip install -r /tmp/requirements.txt \
 && rm /tmp/requirements.txt

COPY martlet ./martlet
COPY ring ./ring
COPY storage ./storage
COPY proxy ./proxy
COPY replicator ./replicator
COPY expirer ./expirer
COPY ops ./ops
COPY etc ./etc
RUN python3 -m pip install --no-deps --no-build-isolation . \
 && install -d -m 0755 /usr/share/martlet \
 && cp etc/*.conf /usr/share/martlet/ \
 && cd / && rm -rf /src \
 && martlet --help > /dev/null

# Mount points of the compose file's named volumes (a node's own files at
# /srv/node, its disk at /srv/node/disk). A named volume mounted on a path
# the image has takes that path's owner when it is first created, so the
# non-root user can write to them.
RUN install -d -o martlet -g martlet /var/lib/martlet /etc/martlet /srv/node /srv/node/disk

LABEL org.opencontainers.image.title="martlet" \
      org.opencontainers.image.description="Swift-compatible object storage: storage nodes, proxy, ring-init"
USER martlet
WORKDIR /var/lib/martlet
EXPOSE 8080 6200
ENTRYPOINT ["martlet"]
CMD ["--help"]
