/**
 * The restart's state machine (src/primary/upgrade/state.ts), exhaustively: every transition from
 * every state is either the declared one or SMOOTH_UPGRADE_ILLEGAL_TRANSITION, and the paths both
 * ends of a restart take go through the states the file lists.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Transitions, Upgrade, type Transition, type UpgradeState } from '../src/primary/upgrade/state.js'
import type { SmoothError } from '../src/errors.js'

const States: UpgradeState[] = ['idle', 'releasingPorts', 'spawning', 'awaitingHello', 'rolling', 'settling', 'handingOver', 'handedOver', 'rollingBack', 'joining', 'replacing', 'awaitingHandover']
const child = { pid: 42, exited: new Promise<never>(() => {}), kill: () => {} }

/** The shortest way from idle to `state`, as transition names. */
const RouteTo: Record<UpgradeState, Transition[]> = {
  idle: [],
  releasingPorts: ['releasePorts'],
  spawning: ['spawn'],
  awaitingHello: ['spawn', 'spawned'],
  rolling: ['spawn', 'spawned', 'greet'],
  settling: ['spawn', 'spawned', 'greet', 'successorReady'],
  handingOver: ['spawn', 'spawned', 'greet', 'successorReady', 'collectCounts'],
  handedOver: ['spawn', 'spawned', 'greet', 'successorReady', 'collectCounts', 'handOver'],
  rollingBack: ['spawn', 'rollBack'],
  joining: ['join'],
  replacing: ['join', 'welcomed'],
  awaitingHandover: ['join', 'welcomed', 'replaced'],
}

function fire(u: Upgrade, t: Transition): void {
  if (t === 'spawned') u.spawned(child)
  else (u[t] as () => void).call(u)
}

function at(state: UpgradeState): Upgrade {
  const u = new Upgrade()
  for (const t of RouteTo[state]) fire(u, t)
  assert.equal(u.state, state)
  return u
}

test('the declared states are all reachable and the table names only them', () => {
  for (const s of States) at(s)
  for (const { from, to } of Object.values(Transitions)) {
    assert.ok(States.includes(to))
    for (const f of from) assert.ok(States.includes(f))
  }
})

test('every transition from every state: the declared target, or SMOOTH_UPGRADE_ILLEGAL_TRANSITION with the state unchanged', () => {
  let legal = 0
  let illegal = 0
  for (const state of States) {
    for (const name of Object.keys(Transitions) as Transition[]) {
      const u = at(state)
      const { from, to } = Transitions[name]
      if ((from as readonly UpgradeState[]).includes(state)) {
        fire(u, name)
        assert.equal(u.state, to, `${name} from ${state}`)
        legal++
      } else {
        assert.throws(() => fire(u, name), (err: SmoothError) => err.code === 'SMOOTH_UPGRADE_ILLEGAL_TRANSITION', `${name} from ${state}`)
        assert.equal(u.state, state)
        illegal++
      }
    }
  }
  assert.equal(legal + illegal, States.length * Object.keys(Transitions).length)
  assert.equal(legal, Object.values(Transitions).reduce((n, t) => n + t.from.length, 0))
})

test('old side: the successor is known from spawned until a rollback; a handed-over one stays known', () => {
  const u = at('awaitingHello')
  assert.equal(u.successor, child)
  u.rollBack()
  assert.equal(u.successor, undefined)
  u.rolledBack()
  assert.ok(u.idle)
  assert.equal(at('handedOver').successor, child)
})

test('a rollback can start from every active old-side state, and says whether the ports were let go', () => {
  for (const s of ['releasingPorts', 'spawning', 'awaitingHello', 'rolling', 'settling', 'handingOver'] as const) {
    const u = at(s)
    u.rollBack()
    assert.equal(u.state, 'rollingBack')
    assert.equal(u.visited('releasingPorts'), s === 'releasingPorts')
  }
  const full = new Upgrade()
  for (const t of ['releasePorts', 'spawn', 'spawned', 'greet', 'rollBack'] as const) fire(full, t)
  assert.ok(full.visited('releasingPorts'))
  full.rolledBack()
  full.spawn()
  assert.ok(!full.visited('releasingPorts'), 'a new restart starts a new path')
})

test('new side: takeOver from each of its states leads back to idle (handed over, predecessor gone, or stopping)', () => {
  for (const s of ['joining', 'replacing', 'awaitingHandover'] as const) {
    const u = at(s)
    u.takeOver()
    assert.ok(u.idle)
  }
})

test('onTransition sees every step with its name', () => {
  const u = new Upgrade()
  const seen: string[] = []
  u.onTransition = (name, from, to) => seen.push(`${from}-${name}->${to}`)
  for (const t of RouteTo.handedOver) fire(u, t)
  assert.deepEqual(seen, ['idle-spawn->spawning', 'spawning-spawned->awaitingHello', 'awaitingHello-greet->rolling', 'rolling-successorReady->settling', 'settling-collectCounts->handingOver', 'handingOver-handOver->handedOver'])
})
