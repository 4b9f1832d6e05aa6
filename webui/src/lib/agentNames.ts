/** Plain-language names and one-sentence purposes of the bundled agents (code names stay as a
 * label: they are what the API, logs and schedules use). From the swarm table in AGENTS.md. */
export interface AgentPlain { title: string; purpose: string }

export const AGENT_PLAIN: Record<string, AgentPlain> = {
  TENSOR: { title: "Compression advisor", purpose: "Tries every compression method on samples of a folder and recommends the best balance of size and speed." },
  VELOCITY: { title: "Speed test", purpose: "Writes and reads a test file inside a volume and reports how fast the storage is." },
  AXIOM: { title: "Compressibility estimate", purpose: "Estimates how much each kind of file in a folder would shrink if compressed." },
  PRISM: { title: "File census", purpose: "Counts files and space by type and age, and lists the largest files." },
  FLUX: { title: "Smart folder compression", purpose: "Compresses a folder, choosing the method per file type and skipping media that is already compressed." },
  DELTA: { title: "Snapshot comparison", purpose: "Lists the files added, changed or deleted between two snapshots, or since a snapshot." },
  SPARK: { title: "Batch compression", purpose: "Compresses many files at once using every processor core." },
  WAVE: { title: "Duplicate finder", purpose: "Finds identical files and reports how much space removing the copies would free." },
  NEXUS: { title: "Cold data report", purpose: "Shows data nobody has read or changed for a number of days, per volume." },
  PULSE: { title: "Health heartbeat", purpose: "Checks processor, memory, disk fill and temperature, and raises or clears alerts." },
  CIPHER: { title: "Encrypt or decrypt", purpose: "Encrypts a file or folder to your keys, or decrypts it back." },
  FORTRESS: { title: "Security check", purpose: "Audits this installation: default secrets, TLS, old API keys, file permissions, open ports." },
  QUANTUM: { title: "Post-quantum keys", purpose: "Creates quantum-resistant encryption keys and moves existing files over to them." },
  SENTINEL: { title: "Ransomware watch", purpose: "Detects a sudden burst of files being scrambled or renamed in a volume and raises an alert." },
  VAULT: { title: "Key backup", purpose: "Exports, imports and rotates the encryption keys, protected by a passphrase." },
  SHIELD: { title: "Integrity check", purpose: "Records a fingerprint of every file in a volume, and later reports any file that changed." },
  GUARDIAN: { title: "Permission audit", purpose: "Finds files anyone can change, programs that run with raised rights, and unexpected owners." },
  PHANTOM: { title: "Secure erase", purpose: "Overwrites and deletes files so they cannot be recovered (a dry run unless you confirm)." },
  AEGIS: { title: "Protective snapshots", purpose: "Takes a snapshot of every volume at once, on demand or when ransomware is suspected." },
  ORACLE: { title: "Capacity forecast", purpose: "Predicts how many days until each pool is full, and the disks' failure risk trend." },
  ARCHITECT: { title: "Pool layout advisor", purpose: "Suggests ways to build a pool from the unused disks, with usable space and fault tolerance." },
  LATTICE: { title: "ZFS tuning advisor", purpose: "Recommends ZFS settings per dataset from its files, and can apply them." },
  STREAM: { title: "Snapshot export/import", purpose: "Saves a snapshot as a single stream file, or loads one back." },
  VERTEX: { title: "Space usage tree", purpose: "Shows which folders of a volume take the most space." },
  SENTRY: { title: "Disk and pool monitor", purpose: "Watches disk health (SMART) and pool state, and reports every change." },
  FORGE: { title: "Archive recompression", purpose: "Recompresses gzip, xz and bzip2 archives to zstd, verifies them, and keeps the smaller one." },
  PHOTON: { title: "Bulk copy or move", purpose: "Copies or moves many files with progress, checksum verification and resume." },
  ATLAS: { title: "File search index", purpose: "Indexes the file names of a volume so they can be searched quickly." },
  CHRONICLE: { title: "Audit log keeper", purpose: "Verifies that the audit log was not tampered with, and exports or rotates it." },
  BRIDGE: { title: "Share health", purpose: "Checks that file sharing (SMB/NFS) runs and matches the configured shares, and repairs drift." },
  BEACON: { title: "Disk rescan", purpose: "Looks for disks that were plugged in or removed." },
  SYNAPSE: { title: "Workflow", purpose: "Runs several agent tasks one after another, passing results along." },
  CRYPTO: { title: "Mesh key rotation", purpose: "Replaces the PhantomMesh network's encryption keys." },
  RELAY: { title: "Notifications", purpose: "Delivers alerts and events to web hooks, retrying when they fail." },
  MIRROR: { title: "Replication", purpose: "Copies snapshots of a volume to another pool, sending only what changed." },
  MESH: { title: "Mesh health", purpose: "Checks that the PhantomMesh peers are reachable and their connections fresh." },
  HARBOR: { title: "Snapshot clean-up", purpose: "Deletes old snapshots according to a keep policy (last N, daily, weekly), with a preview." },
  CONDUIT: { title: "Backup", purpose: "Snapshot, archive, compress, encrypt and copy a volume to a destination, in one go." },
  HELIX: { title: "Federation", purpose: "Gathers the status of the other SigmaVault machines in the mesh." },
  OMNISCIENT: { title: "Scheduler", purpose: "Runs agent tasks on a schedule, and watches the health of all agents." },
};

/** The plain name of an agent ("Security check"), or its code name when unknown. */
export function plainAgent(name: string, specialty?: string): AgentPlain {
  return AGENT_PLAIN[name.toUpperCase()] ?? { title: name, purpose: specialty ?? "" };
}
