# changegate gateway image.
#
# The build stage compiles src/ with the full toolchain (tsc -p tsconfig.build.json); the runtime stage holds
# only production dependencies and dist/, and runs `node dist/main.js`. tsx is one of those dependencies: the gateway
# compiles a `.ts` configuration file with it at start (a `.json` file needs nothing), and `import ... from
# 'changegate'` in the file resolves to the gateway itself, so the file can be mounted anywhere.
#
#   docker build -t changegate .
#   docker run -p 4000:4000 changegate                     # embedded MongoDB, demo data
#   docker run -p 4000:4000 -e MONGODB_URI=... -e CHANGEGATE_JWT_SECRET=... changegate
#   docker run -p 4000:4000 -v "$PWD/changegate.config.ts:/etc/changegate/changegate.config.ts:ro" \
#     -e CHANGEGATE_CONFIG=/etc/changegate/changegate.config.ts -e MONGODB_URI=... -e CHANGEGATE_JWT_SECRET=... changegate

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=4000
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
USER node
EXPOSE 4000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
