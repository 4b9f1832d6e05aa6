import { useEffect, useId, useState } from "react";
import { useFiles, type FileEntry, type FileSource } from "../hooks/useFiles";
import { usePools, useVolumes } from "../hooks/useStorage";
import { errorMessage } from "../lib/api";
import { bytes, when } from "../lib/format";

/** A file or folder inside a storage volume: what every form that needs a place takes. */
export interface PickedLocation {
  pool: string;
  volume: string;
  /** relative to the volume root; "" is the volume itself */
  path: string;
  type: "file" | "dir" | "symlink" | "other";
}

export type Accept = "file" | "dir" | "any";

/** "tank / media / photos/2024" */
export function locationLabel(l: PickedLocation | null | undefined): string {
  if (!l) return "";
  return [l.pool, l.volume, ...(l.path ? [l.path] : [])].join(" / ");
}

const ICON: Record<FileEntry["type"], string> = { dir: "▣", file: "▤", symlink: "↪", other: "◆" };

function parentOf(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}

/** The folder listing with a breadcrumb: folders open, files (when accepted) are chosen. */
export function FileBrowser({ source, value, accept, onPick, startPath = "", rootChoosable = true }: {
  source: FileSource;
  value: PickedLocation | null;
  accept: Accept;
  onPick: (l: PickedLocation) => void;
  startPath?: string;
  /** false: the volume (or snapshot) root itself cannot be chosen, only what is in it */
  rootChoosable?: boolean;
}) {
  const [dir, setDir] = useState(startPath);
  useEffect(() => setDir(startPath), [source.pool, source.volume, source.snapshot, source.listUrl, startPath]);
  const files = useFiles(source, dir);
  const pages = files.data?.pages ?? [];
  const items = pages.flatMap((p) => p.items);
  const total = pages[0]?.total ?? 0;
  const parts = dir ? dir.split("/") : [];
  const root = source.label ?? (source.snapshot ? `${source.volume} @ ${source.snapshot}` : source.volume);
  const here: PickedLocation = { pool: source.pool, volume: source.volume, path: dir, type: "dir" };
  const isChosen = (p: string) => value?.pool === source.pool && value.volume === source.volume && value.path === p;
  return (
    <div className="file-browser" data-testid="file-browser">
      <nav aria-label="Folder" className="crumbs">
        <ol>
          <li><button type="button" className="link" onClick={() => setDir("")} aria-current={dir === "" ? "location" : undefined}>{root}</button></li>
          {parts.map((p, i) => {
            const to = parts.slice(0, i + 1).join("/");
            return <li key={to}><button type="button" className="link" onClick={() => setDir(to)} aria-current={to === dir ? "location" : undefined}>{p}</button></li>;
          })}
        </ol>
      </nav>
      {accept !== "file" && (dir !== "" || rootChoosable) && (
        <button type="button" className={`btn small${isChosen(dir) ? " primary" : ""}`} onClick={() => onPick(here)} aria-pressed={isChosen(dir)}>
          {isChosen(dir) ? "✓ This folder is chosen" : `Choose this folder${dir ? "" : " (the whole volume)"}`}
        </button>
      )}
      {files.isLoading ? <p className="muted" role="status">Loading…</p>
        : files.error ? <p className="form-error" role="alert">Could not list this folder: {errorMessage(files.error)}</p>
        : items.length === 0 ? <p className="muted">This folder is empty.</p> : (
          <ul className="file-list" aria-label={`Contents of ${dir || root}`}>
            {dir && (
              <li><button type="button" className="file-row" onClick={() => setDir(parentOf(dir))}><span aria-hidden>⬑</span> <span className="name">.. (up one folder)</span></button></li>
            )}
            {items.map((e) => {
              const chosen = isChosen(e.path);
              const pickable = e.type !== "dir" && accept !== "dir";
              return (
                <li key={e.path} className={chosen ? "chosen" : undefined}>
                  {e.type === "dir" ? (
                    <button type="button" className="file-row" onClick={() => setDir(e.path)} aria-label={`open folder ${e.name}`}>
                      <span aria-hidden>{ICON.dir}</span> <span className="name">{e.name}</span>
                    </button>
                  ) : (
                    <button type="button" className="file-row" disabled={!pickable} aria-pressed={chosen} onClick={() => onPick({ pool: source.pool, volume: source.volume, path: e.path, type: e.type })} aria-label={`${chosen ? "chosen: " : "choose "}${e.name}`}>
                      <span aria-hidden>{chosen ? "✓" : ICON[e.type]}</span> <span className="name">{e.name}</span>
                    </button>
                  )}
                  {/* beside the button, not in it: a button's visible text must be within its name (WCAG 2.5.3) */}
                  <span className="meta">{e.type === "dir" ? when(e.mtime) : `${bytes(e.size)} · ${when(e.mtime)}`}</span>
                </li>
              );
            })}
          </ul>
        )}
      {files.hasNextPage && (
        <button type="button" className="btn small" onClick={() => void files.fetchNextPage()} disabled={files.isFetchingNextPage}>
          Show more ({items.length} of {total})
        </button>
      )}
    </div>
  );
}

/**
 * Pick a file or folder: pool → volume → folders, with a breadcrumb. Everything is a button or a
 * select, so it works from the keyboard alone. `fixed` browses one volume (or snapshot) only.
 */
export function LocationPicker({ label, value, onChange, accept = "any", fixed, hint, error, name, rootChoosable = true }: {
  label: string;
  value: PickedLocation | null;
  onChange: (l: PickedLocation | null) => void;
  accept?: Accept;
  fixed?: FileSource;
  hint?: string;
  error?: string | null;
  name?: string;
  rootChoosable?: boolean;
}) {
  const id = useId();
  const pools = usePools(!fixed);
  const [pool, setPool] = useState(fixed?.pool ?? value?.pool ?? "");
  const volumes = useVolumes(fixed ? null : pool || null);
  const [volume, setVolume] = useState(fixed?.volume ?? value?.volume ?? "");
  const poolList = pools.data ?? [];
  const volList = volumes.data ?? [];
  // one pool or one volume: chosen for the user
  useEffect(() => { if (!fixed && !pool && poolList.length === 1) setPool(poolList[0]!.name); }, [fixed, pool, poolList]);
  useEffect(() => { if (!fixed && pool && !volume && volList.length === 1) setVolume(volList[0]!.name); }, [fixed, pool, volume, volList]);
  const source: FileSource | null = fixed ?? (pool && volume ? { pool, volume } : null);
  const what = accept === "file" ? "a file" : accept === "dir" ? "a folder" : "a file or folder";
  return (
    <fieldset className={`field picker${error ? " invalid" : ""}`} data-testid={name ? `picker-${name}` : undefined}>
      <legend className="field-label">{label}</legend>
      <div className="picked" aria-live="polite" id={`${id}-value`}>
        {value ? <>Chosen: <strong data-testid="picked">{locationLabel(value)}</strong>{value.type === "dir" ? " (folder)" : ""}</> : <span className="muted">Nothing chosen yet: pick {what} below.</span>}
      </div>
      {!fixed && (
        <div className="inline">
          <label>Pool{" "}
            <select value={pool} onChange={(e) => { setPool(e.target.value); setVolume(""); onChange(null); }} aria-label={`${label}: pool`}>
              <option value="">{pools.isLoading ? "loading…" : poolList.length ? "choose a pool" : "no pools"}</option>
              {poolList.map((p) => <option key={p.name} value={p.name}>{p.name}</option>)}
            </select>
          </label>
          <label>Volume{" "}
            <select value={volume} disabled={!pool} onChange={(e) => { setVolume(e.target.value); onChange(null); }} aria-label={`${label}: volume`}>
              <option value="">{!pool ? "choose a pool first" : volList.length ? "choose a volume" : "no volumes"}</option>
              {volList.map((v) => <option key={v.name} value={v.name}>{v.name}</option>)}
            </select>
          </label>
        </div>
      )}
      {source && <FileBrowser source={source} value={value} accept={accept} onPick={onChange} rootChoosable={rootChoosable} startPath={value && value.pool === source.pool && value.volume === source.volume ? (value.type === "dir" ? value.path : parentOf(value.path)) : ""} />}
      {hint && <span className="hint">{hint}</span>}
      {error && <span className="field-error" role="alert">{error}</span>}
    </fieldset>
  );
}
