# martlet: one image for every role (proxy, storage, replicators, ring-init);
# the compose file picks the role with the command, e.g. `storage --config ...`.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# A fixed uid/gid, so volumes keep the same owner across image rebuilds.
RUN groupadd --system --gid 10001 martlet \
 && useradd --system --uid 10001 --gid martlet --home-dir /var/lib/martlet --shell /usr/sbin/nologin martlet

WORKDIR /src
COPY pyproject.toml README.md ./
COPY martlet ./martlet
COPY ring ./ring
COPY storage ./storage
COPY proxy ./proxy
COPY replicator ./replicator
COPY ops ./ops
COPY etc ./etc
RUN pip install . \
 && install -d -m 0755 /usr/share/martlet \
 && cp etc/*.conf /usr/share/martlet/ \
 && rm -rf /src

# Mount points of the compose file's named volumes. A named volume mounted
# on a path the image has takes that path's owner when it is first created,
# so the non-root user can write to them.
RUN install -d -o martlet -g martlet /var/lib/martlet /etc/martlet /srv/node \
    /srv/node/d1 /srv/node/d2 /srv/node/d3 /srv/node/d4

USER martlet
WORKDIR /var/lib/martlet
EXPOSE 8080 6200
ENTRYPOINT ["martlet"]
CMD ["--help"]
