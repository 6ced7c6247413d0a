# Node 24 LTS, as package.json's engines.node says.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig*.json nest-cli.json ./
COPY src ./src
COPY migrations ./migrations
# Pruning drops the dev dependencies, the `node` package (a second Node for machines without 24) among them.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
EXPOSE 3000
# The Procfile's heap limit (web and worker alike): keeps a process near 250 MB under load.
CMD ["node", "--max-old-space-size=160", "--max-semi-space-size=8", "dist/main.js"]
