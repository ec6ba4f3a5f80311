/**
 * The deployment files, checked against the code since no Kubernetes or Docker runs here: probes hit the routes
 * and port the gateway serves, every variable set is one the gateway reads and each gateway's environment passes
 * the config module's validation, references between manifests resolve, and a stopping pod has time to hand its
 * leases over.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { resolveConfig } from '../../src/models/index.js'
import { describe, expect, it } from 'vitest'
import { parseAllDocuments, parse as parseYaml } from 'yaml'
import { DEFAULT_LEASE_TTL_MS } from '../../src/cluster/lease-manager.js'
import { loadConfig } from '../../src/config/index.js'
import { parseRedisUrl } from '../../src/config/redis-url.js'

type Doc = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const root = join(import.meta.dirname, '..', '..')
const manifests: Doc[] = readdirSync(join(root, 'deploy'))
  .filter((name) => name.endsWith('.yaml') && name !== 'kustomization.yaml')
  .flatMap((name) => parseAllDocuments(readFileSync(join(root, 'deploy', name), 'utf8')).map((doc) => doc.toJS() as Doc))
const kind = (k: string) => {
  const found = manifests.filter((m) => m.kind === k)
  expect(found, `one ${k} in deploy/`).toHaveLength(1)
  return found[0]
}
const compose: Doc = parseYaml(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true })

/** Every variable the config module reads, recorded by handing it an environment that logs each lookup. */
function variablesRead(): Set<string> {
  const read = new Set<string>()
  const env = new Proxy({} as Record<string, string | undefined>, {
    get: (_target, name) => {
      if (typeof name === 'string') read.add(name)
      return undefined
    },
  })
  loadConfig(env)
  return read
}

const CONFIG_FILE_VARIABLE = 'CHANGEGATE_CONFIG'
const known = new Set(variablesRead())

/** Compose's `${NAME:-default}` interpolation, with the defaults. */
const interpolate = (value: string) => value.replace(/\$\{[A-Z_]+:-([^}]*)\}/g, '$1')

describe('Kubernetes manifests', () => {
  const deployment = kind('Deployment')
  const pod = deployment.spec.template.spec
  const container = pod.containers[0]
  const port = container.ports.find((p: Doc) => p.name === 'http')
  const env: Record<string, Doc> = Object.fromEntries((container.env as Doc[]).map((e) => [e.name, e]))

  it('probes the routes the gateway serves, on the port it listens on', () => {
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'http' })
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'http' })
    expect(String(port.containerPort)).toBe(env.PORT.value)
    expect(env.HOST.value).toBe('0.0.0.0')
  })

  it('sets only variables the gateway reads, and the resulting configuration is valid', () => {
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([])
    const secret = kind('Secret')
    const values: Record<string, string> = {}
    for (const [name, entry] of Object.entries(env)) {
      if (entry.value !== undefined) values[name] = entry.value
      else if (entry.valueFrom?.secretKeyRef) {
        expect(entry.valueFrom.secretKeyRef.name).toBe(secret.metadata.name)
        expect(secret.stringData).toHaveProperty(entry.valueFrom.secretKeyRef.key)
        values[name] = secret.stringData[entry.valueFrom.secretKeyRef.key]
      } else values[name] = `${entry.valueFrom.fieldRef.fieldPath.replace(/\W/g, '-')}-0`
    }
    const config = loadConfig(values)
    expect(config.redisUrl && parseRedisUrl(config.redisUrl).kind).toBe('cluster')
    expect(config.jwtSecretGenerated).toBe(false)
  })

  it('mounts the configuration file where CHANGEGATE_CONFIG points, and it is a valid configuration', () => {
    const configMap = kind('ConfigMap')
    const path: string = env[CONFIG_FILE_VARIABLE].value
    const volume = pod.volumes.find((v: Doc) => v.configMap?.name === configMap.metadata.name)
    const mount = container.volumeMounts.find((m: Doc) => m.name === volume.name)
    expect(path.startsWith(`${mount.mountPath}/`)).toBe(true)
    const file = configMap.data[path.slice(mount.mountPath.length + 1)]
    expect(resolveConfig(JSON.parse(file)).models.length).toBeGreaterThan(0)
  })

  it('gives a stopping pod longer than the lease handover', () => {
    const preStopMs = (container.lifecycle?.preStop?.sleep?.seconds ?? 0) * 1000
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThan(preStopMs + DEFAULT_LEASE_TTL_MS)
  })

  it('points the Service, Ingress, budget and autoscaler at the gateways', () => {
    const labels = pod.metadata?.labels ?? deployment.spec.template.metadata.labels
    const service = kind('Service')
    expect(labels).toMatchObject(service.spec.selector)
    expect(service.spec.ports[0].targetPort).toBe('http')
    expect(service.spec.sessionAffinity).toBe('ClientIP')
    const ingress = kind('Ingress')
    expect(ingress.spec.rules[0].http.paths[0].backend.service.name).toBe(service.metadata.name)
    expect(Number(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(60)
    expect(labels).toMatchObject(kind('PodDisruptionBudget').spec.selector.matchLabels)
    const hpa = kind('HorizontalPodAutoscaler')
    expect(hpa.spec.scaleTargetRef).toMatchObject({ kind: 'Deployment', name: deployment.metadata.name })
    expect(hpa.spec.minReplicas).toBeGreaterThanOrEqual(2)
  })
})

describe('docker-compose.yml', () => {
  const gateways = Object.entries(compose.services as Record<string, Doc>).filter(([name]) => name.startsWith('gateway'))

  it.each(gateways)('%s sets only variables the gateway reads, valid together, and checks /readyz', (_name, service) => {
    const env = Object.fromEntries(Object.entries(service.environment as Record<string, string>).map(([k, v]) => [k, interpolate(String(v))]))
    expect(Object.keys(env).filter((name) => !known.has(name))).toEqual([])
    expect(() => loadConfig(env)).not.toThrow()
    expect(service.healthcheck.test.join(' ')).toContain(`127.0.0.1:${env.PORT}/readyz`)
  })

  it('profile redis-cluster: 3 primaries and 3 replicas created by an init service, and gateways pointed at them', () => {
    const services = Object.entries(compose.services as Record<string, Doc>).filter(([, s]) => s.profiles?.includes('redis-cluster'))
    const redisNodes = services.filter(([, s]) => String(s.command).includes('--cluster-enabled yes'))
    expect(redisNodes).toHaveLength(6)
    const init = compose.services['redis-cluster-init']
    expect(init.profiles).toEqual(['redis-cluster'])
    expect(String(init.command)).toContain('--cluster-replicas 1')
    expect(Object.keys(init.depends_on).sort()).toEqual(redisNodes.map(([name]) => name).sort())
    const clusterGateways = services.filter(([name]) => name.startsWith('gateway'))
    expect(clusterGateways.length).toBeGreaterThanOrEqual(3)
    for (const [, gateway] of clusterGateways) {
      const target = parseRedisUrl(gateway.environment.REDIS_URL)
      expect(target.kind).toBe('cluster')
      if (target.kind === 'cluster') for (const node of target.nodes) expect(compose.services).toHaveProperty(node.host)
      expect(gateway.depends_on['redis-cluster-init'].condition).toBe('service_completed_successfully')
    }
  })
})
