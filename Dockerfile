# regmgr in a container, used as the predecessor was (docker run ... registry-manager delete -c ...):
#
#   docker build -t regmgr .
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/work" -e HARBOR_PASSWORD regmgr plan -c config.yml -out plan.json
#
# The image holds Node 20, skopeo from Debian and the package `npm pack` makes (only the
# built code and the schemas); regmgr runs as a user without privileges. It writes only
# beside its config (state, journal, lock) and in $TMPDIR, so /work must be writable by
# that user: hence --user above.

# Stage 1: build and pack from the checkout, exactly as `npm ci && npm pack` does there.
FROM node:20-slim AS pack
WORKDIR /src
COPY . .
RUN npm ci --no-audit --no-fund && npm pack --ignore-scripts --pack-destination /tmp && mv /tmp/regmgr-*.tgz /tmp/regmgr.tgz

# Stage 2: what runs.
FROM node:20-slim
RUN apt-get update && apt-get install -y --no-install-recommends skopeo ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=pack /tmp/regmgr.tgz /tmp/regmgr.tgz
# --ignore-scripts: neither regmgr nor its dependencies need an install script.
RUN npm install --global --omit=dev --ignore-scripts --no-audit --no-fund --cache /tmp/npm-cache /tmp/regmgr.tgz && rm -rf /tmp/regmgr.tgz /tmp/npm-cache
RUN useradd --create-home --uid 10001 --user-group regmgr
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["regmgr"]
CMD ["--help"]
