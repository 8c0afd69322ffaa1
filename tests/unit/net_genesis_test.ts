import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { join } from "@std/path";
import { parseGenesis } from "../../src/consensus/bft/genesis.ts";
import { BftError } from "../../src/consensus/bft/errors.ts";
import { simVerifier, voteSignBytes } from "../../src/consensus/bft/signing.ts";
import { AwrError } from "../../src/errors.ts";
import { startLiveNode } from "../../src/live/live.ts";
import { CliError } from "../../src/cli/io.ts";
import { genesisFlagError, genesisFlags } from "../../src/cli/live.ts";
import { runCli } from "../../src/cli/main.ts";
import {
  commandLine,
  initGenesis,
  liveArgsOf,
  MAX_INIT_VALIDATORS,
} from "../../src/net/genesis_init.ts";
import { openGenesisNode } from "../../src/net/genesis_node.ts";
import { ed25519Verifier, loadValidatorKey, validatorKeyPath } from "../../src/net/keys.ts";
import { waitFor } from "../support/hooks.ts";

const PUB = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

async function withTemp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "awr-genesis-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("genesis: optional address is parsed; a bad one names its field; old files stay valid", () => {
  const v = (extra: Record<string, unknown>) => ({
    version: 1,
    world_id: "w",
    validators: [{ id: "v1", public_key: PUB, stake: 1, ...extra }],
  });
  assertEquals(parseGenesis(v({})).addresses.size, 0);
  const g = parseGenesis(v({ address: "/ip4/10.0.0.1/tcp/26656" }));
  assertEquals([...g.addresses], [["v1", "/ip4/10.0.0.1/tcp/26656"]]);
  for (
    const bad of [7, "", "ip4/1.2.3.4", "/ip4/1.2.3.4/tcp/1/p2p/12D3Koo", "/" + "a".repeat(256)]
  ) {
    const err = assertThrows(() => parseGenesis(v({ address: bad })), BftError);
    assert(err.message.includes(`"validators[0].address"`), err.message);
  }
});

Deno.test("genesis init: keys 0600 listed in genesis.json, consecutive ports, live lines", async () => {
  await withTemp(async (tmp) => {
    const out = join(tmp, "net");
    const net = await initGenesis({
      validators: 3,
      outDir: out,
      worldId: "demo",
      basePort: 30000,
      stake: 7,
      durable: false,
    });
    assertEquals(net.genesisPath, join(out, "genesis.json"));
    const json = JSON.parse(await Deno.readTextFile(net.genesisPath));
    assertEquals(json.world_id, "demo");
    assertEquals(json.validators.map((v: { id: string }) => v.id), ["v1", "v2", "v3"]);
    assertEquals(json.validators.map((v: { address: string }) => v.address), [
      "/ip4/127.0.0.1/tcp/30000",
      "/ip4/127.0.0.1/tcp/30001",
      "/ip4/127.0.0.1/tcp/30002",
    ]);
    for (let i = 1; i <= 3; i++) {
      const path = validatorKeyPath(join(out, `node${i}`));
      assertEquals(((await Deno.stat(path)).mode ?? 0) & 0o777, 0o600);
      const key = await loadValidatorKey(path);
      assertEquals(json.validators[i - 1].public_key, key.publicKeyHex);
      assertEquals(json.validators[i - 1].stake, 7);
    }
    assertEquals(new Set(json.validators.map((v: { public_key: string }) => v.public_key)).size, 3);
    assertEquals(
      commandLine(liveArgsOf(net, 1)),
      `awr live --data-dir ${out}/node2 --genesis ${out}/genesis.json ` +
        `--listen /ip4/127.0.0.1/tcp/30001 ` +
        `--peers /ip4/127.0.0.1/tcp/30000,/ip4/127.0.0.1/tcp/30002`,
    );
    assertEquals(commandLine(["live", "--data-dir", "a b's"]), `awr live --data-dir 'a b'\\''s'`);

    // A second init into the same (now non-empty) folder is refused, naming it.
    const err = await assertRejects(() => initGenesis({ validators: 1, outDir: out }), AwrError);
    assertEquals(err.code, "GENESIS_INIT_OUT");
    assert(err.message.includes(out), err.message);
  });
});

Deno.test("genesis init: bounds on validators and ports", async () => {
  await withTemp(async (tmp) => {
    const at = await initGenesis({
      validators: MAX_INIT_VALIDATORS,
      outDir: join(tmp, "max"),
      durable: false,
    });
    assertEquals(at.nodes.length, MAX_INIT_VALIDATORS);
    assertEquals(at.nodes.at(-1)!.address, `/ip4/127.0.0.1/tcp/${26656 + MAX_INIT_VALIDATORS - 1}`);
    const cases: [Record<string, number>, string][] = [
      [{ validators: MAX_INIT_VALIDATORS + 1 }, "validators"],
      [{ validators: 0 }, "validators"],
      [{ validators: 2, basePort: 65535 }, "base port"],
      [{ validators: 1, stake: 0 }, "stake"],
    ];
    for (const [opts, field] of cases) {
      const outDir = join(tmp, "x");
      const validators = opts.validators;
      const err = await assertRejects(() => initGenesis({ ...opts, validators, outDir }), AwrError);
      assertEquals(err.code, "GENESIS_INIT_OPTION");
      assert(err.message.includes(field), err.message);
      await assertRejects(() => Deno.stat(outDir), Deno.errors.NotFound); // nothing written
    }
  });
});

Deno.test("genesis node: local validator from the key; follower when unlisted; conflicts refused", async () => {
  await withTemp(async (tmp) => {
    const net = await initGenesis({ validators: 2, outDir: join(tmp, "net"), durable: false });
    const v2 = await openGenesisNode({
      genesisPath: net.genesisPath,
      dataDir: net.nodes[1].dataDir,
    });
    assertEquals([v2.localValidator, v2.keyCreated, v2.worldId], ["v2", false, "world-1"]);
    assertEquals(v2.validators, [{ id: "v1", stake: 10 }, { id: "v2", stake: 10 }]);
    const bytes = new Uint8Array([1, 2]);
    const sig = v2.keys.signer("v2").sign(bytes);
    assert(v2.keys.verifier.verify("v2", bytes, sig));
    assert(!v2.keys.verifier.verify("v1", bytes, sig));
    assertThrows(() => v2.keys.signer("v1"), AwrError, "no key");

    // A new data dir: a key is made on first start, and it is not in the genesis.
    const fresh = join(tmp, "fresh");
    const f = await openGenesisNode({ genesisPath: net.genesisPath, dataDir: fresh });
    assertEquals([f.localValidator, f.keyCreated], [null, true]);
    assertEquals(
      (await loadValidatorKey(validatorKeyPath(fresh))).publicKeyHex,
      f.key.publicKeyHex,
    );
    const again = await openGenesisNode({ genesisPath: net.genesisPath, dataDir: fresh });
    assertEquals([again.keyCreated, again.key.publicKeyHex], [false, f.key.publicKeyHex]);

    const conflict = await assertRejects(
      () => openGenesisNode({ genesisPath: net.genesisPath, dataDir: fresh, worldId: "other" }),
      AwrError,
    );
    assertEquals(conflict.code, "GENESIS_CONFLICT");
    assert(conflict.message.includes(net.genesisPath));

    const simKeys = join(tmp, "sim.json");
    await Deno.writeTextFile(
      simKeys,
      JSON.stringify({
        version: 1,
        world_id: "w",
        validators: [{ id: "a", public_key: "ab", stake: 1 }],
      }),
    );
    const short = await assertRejects(
      () => openGenesisNode({ genesisPath: simKeys, dataDir: fresh }),
      AwrError,
    );
    assertEquals(short.code, "GENESIS_FIELD");
    assert(short.message.includes(simKeys) && short.message.includes("public_key"));
    const missing = await assertRejects(
      () => openGenesisNode({ genesisPath: join(tmp, "none.json"), dataDir: fresh }),
      AwrError,
    );
    assertEquals(missing.code, "GENESIS_READ");
  });
});

Deno.test("live --genesis: the sole validator commits blocks whose precommits are Ed25519", async () => {
  await withTemp(async (tmp) => {
    const net = await initGenesis({ validators: 1, outDir: join(tmp, "net"), worldId: "gw" });
    const live = await startLiveNode({
      dataDir: net.nodes[0].dataDir,
      genesis: net.genesisPath,
      http: null,
      tickMs: 20,
      statusEveryMs: 0,
      rewardIntervalMs: 50,
    });
    try {
      assertEquals([live.options.worldId, live.options.nodeId], ["gw", "v1"]);
      assert(await waitFor(() => live.node.snapshot().consensus.committedHeight >= 3, 10_000));
      const block = await live.node.blocks.getBlock(2);
      const precommits = block!.certificate!.precommits;
      assertEquals(precommits.map((p) => p.vote.validator), ["v1"]);
      const ed = ed25519Verifier([{ id: "v1", publicKey: net.nodes[0].publicKeyHex }]);
      const p = precommits[0];
      assertEquals(p.signature.length, 64);
      assert(ed.verify("v1", voteSignBytes("gw", p.vote), p.signature));
      assert(!simVerifier("gw").verify("v1", voteSignBytes("gw", p.vote), p.signature));
    } finally {
      await live.stop();
    }
  });
});

Deno.test("live --genesis: a node whose key the genesis does not list commits nothing", async () => {
  await withTemp(async (tmp) => {
    const net = await initGenesis({ validators: 1, outDir: join(tmp, "net"), durable: false });
    const dataDir = join(tmp, "follower");
    const live = await startLiveNode({
      dataDir,
      genesis: net.genesisPath,
      http: null,
      tickMs: 10,
      statusEveryMs: 0,
      rewardIntervalMs: 50,
    });
    try {
      assertEquals(live.options.nodeId, "node-1");
      // Many ticks pass (the slot clock moves) without a commit.
      const slot0 = live.node.snapshot().consensus.slot;
      assert(await waitFor(() => live.node.snapshot().consensus.slot >= slot0 + 20, 10_000));
      assertEquals(live.node.snapshot().consensus.committedHeight, 0);
    } finally {
      await live.stop();
    }
    const err = await assertRejects(
      () => startLiveNode({ dataDir, genesis: net.genesisPath, http: null, worldId: "x" }),
      AwrError,
    );
    assertEquals(err.code, "GENESIS_CONFLICT");
  });
});

Deno.test("cli: genesis init prints each node's awr live line; a non-empty --out is refused", async () => {
  await withTemp(async (tmp) => {
    const out = join(tmp, "net");
    const lines: string[] = [];
    const io = {
      out: (l: string) => lines.push(l),
      err: (l: string) => lines.push(l),
      isTerminal: false,
    };
    const args = ["genesis", "init", "--validators", "2", "--out", out, "--base-port", "5000"];
    assertEquals(await runCli(args, io), 0);
    assert(
      lines.includes(
        `awr live --data-dir ${out}/node1 --genesis ${out}/genesis.json ` +
          `--listen /ip4/127.0.0.1/tcp/5000 --peers /ip4/127.0.0.1/tcp/5001`,
      ),
      lines.join("\n"),
    );
    lines.length = 0;
    assertEquals(await runCli(args, io), 1);
    assert(lines.some((l) => l.includes(`${out} is not empty`)), lines.join("\n"));
    lines.length = 0;
    assertEquals(await runCli([...args.slice(0, 3), "65", "--out", join(tmp, "b")], io), 2);
    assert(lines.some((l) => l.includes("--validators must be at most 64")), lines.join("\n"));
  });
});

Deno.test("cli: --genesis leaves world and node id to the genesis unless given; --world-id conflict names the flag", () => {
  const flags = { genesis: "g.json", worldId: "world-1", nodeId: "node-1" };
  assertEquals(genesisFlags(flags, () => false), {
    genesis: "g.json",
    worldId: undefined,
    nodeId: undefined,
  });
  assertEquals(genesisFlags(flags, (o) => o === "worldId").worldId, "world-1");
  assertEquals(genesisFlags({ ...flags, genesis: undefined }, () => true), {});
  const conflict = new AwrError("GENESIS_CONFLICT", "x", {
    option: "worldId",
    path: "g.json",
    genesisWorldId: "gw",
  });
  const err = genesisFlagError(conflict, { worldId: "mine" }) as CliError;
  assert(err instanceof CliError);
  assertEquals(err.exitCode, 2);
  assertEquals(
    err.message,
    `--world-id "mine" contradicts the genesis g.json (world_id "gw"); leave --world-id out`,
  );
  const other = new AwrError("KEY_MODE", "y", { path: "k.json", mode: "644" });
  assertEquals(genesisFlagError(other, { worldId: "mine" }), other);
});
