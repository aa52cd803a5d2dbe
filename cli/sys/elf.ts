/**
 * What kind of program a command is, as far as LD_PRELOAD is concerned:
 * read before exec from the file itself (ELF program headers, sections and
 * notes, set-id bits, file capabilities). The dynamic loader is what reads
 * LD_PRELOAD, so a program without one (static), one that bypasses libc
 * (Go), and one the loader runs in secure mode (set-id, file capabilities)
 * cannot be converted by libgraft.so.
 *
 * @module
 */

import { hasFileCapabilities } from "./seccomp.ts";

/** What the launcher learned about a program. */
export interface ProgramInfo {
  /** The file that will be executed. */
  path: string;
  /** ELF linked through the dynamic loader; false for static ELF; undefined when not ELF. */
  dynamic?: boolean;
  /** Built by the Go toolchain (a `.go.buildinfo` section or a Go build-ID note). */
  go: boolean;
  /** "set-user-ID", "set-group-ID" or "file-capability" when the loader runs it in secure mode. */
  privileged?: string;
}

/** Why LD_PRELOAD cannot convert this program, in a few words, or undefined when it can. */
export function preloadBlocker(info: ProgramInfo): string | undefined {
  if (info.go) return "a Go program (its net package makes raw system calls)";
  if (info.dynamic === false) return "statically linked (no dynamic loader reads LD_PRELOAD)";
  if (info.privileged) {
    return `a ${info.privileged} program (the loader ignores LD_PRELOAD for it)`;
  }
  return undefined;
}

/** The file `cmd` names, found through PATH as execvp would; undefined when there is none. */
export function resolveCommand(cmd: string, path = Deno.env.get("PATH") ?? ""): string | undefined {
  const candidates = cmd.includes("/") ? [cmd] : path.split(":").map((d) => `${d || "."}/${cmd}`);
  for (const c of candidates) {
    try {
      const st = Deno.statSync(c);
      if (st.isFile && ((st.mode ?? 0) & 0o111) !== 0) return c;
    } catch { /* next */ }
  }
  return undefined;
}

const PT_INTERP = 3;
const PT_NOTE = 4;

function readAt(f: Deno.FsFile, off: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  f.seekSync(off, Deno.SeekMode.Start);
  let got = 0;
  while (got < len) {
    const n = f.readSync(out.subarray(got));
    if (n === null || n === 0) break;
    got += n;
  }
  return out.subarray(0, got);
}

/** Whether a PT_NOTE segment carries the Go build ID note (name "Go", type 4). */
function hasGoNote(note: Uint8Array): boolean {
  const v = new DataView(note.buffer, note.byteOffset, note.length);
  for (let off = 0; off + 12 <= note.length;) {
    const namesz = v.getUint32(off, true), descsz = v.getUint32(off + 4, true);
    const type = v.getUint32(off + 8, true);
    const name = new TextDecoder().decode(note.subarray(off + 12, off + 12 + namesz));
    if (type === 4 && name.replace(/\0+$/, "") === "Go") return true;
    off += 12 + ((namesz + 3) & ~3) + ((descsz + 3) & ~3);
  }
  return false;
}

/** The section names of an ELF64 file (empty when it has no section headers). */
function sectionNames(f: Deno.FsFile, h: DataView): string[] {
  const shoff = Number(h.getBigUint64(0x28, true));
  const shentsize = h.getUint16(0x3a, true), shnum = h.getUint16(0x3c, true);
  const shstrndx = h.getUint16(0x3e, true);
  if (!shoff || shentsize < 64 || shnum === 0 || shnum > 4096 || shstrndx >= shnum) return [];
  const sh = readAt(f, shoff, shentsize * shnum);
  if (sh.length < shentsize * shnum) return [];
  const sv = new DataView(sh.buffer, sh.byteOffset, sh.length);
  const strOff = Number(sv.getBigUint64(shstrndx * shentsize + 0x18, true));
  const strSize = Number(sv.getBigUint64(shstrndx * shentsize + 0x20, true));
  const strtab = readAt(f, strOff, Math.min(strSize, 1 << 20));
  const names: string[] = [];
  for (let i = 0; i < shnum; i++) {
    const at = sv.getUint32(i * shentsize, true);
    const end = strtab.indexOf(0, at);
    if (at < strtab.length) names.push(new TextDecoder().decode(strtab.subarray(at, end)));
  }
  return names;
}

/** Program headers: whether there is an interpreter, and whether a note says Go. */
function programHeaders(f: Deno.FsFile, h: DataView): { interp: boolean; goNote: boolean } {
  const phoff = Number(h.getBigUint64(0x20, true));
  const phentsize = h.getUint16(0x36, true), phnum = h.getUint16(0x38, true);
  let interp = false, goNote = false;
  if (phentsize < 56 || phnum > 512) return { interp, goNote };
  const ph = readAt(f, phoff, phentsize * phnum);
  const pv = new DataView(ph.buffer, ph.byteOffset, ph.length);
  for (let i = 0; (i + 1) * phentsize <= ph.length; i++) {
    const type = pv.getUint32(i * phentsize, true);
    if (type === PT_INTERP) interp = true;
    if (type === PT_NOTE && !goNote) {
      const off = Number(pv.getBigUint64(i * phentsize + 8, true));
      const size = Number(pv.getBigUint64(i * phentsize + 32, true));
      goNote = hasGoNote(readAt(f, off, Math.min(size, 4096)));
    }
  }
  return { interp, goNote };
}

/** Inspect the program file at `path` (never throws: unreadable means "not ELF"). */
export function inspectProgram(path: string): ProgramInfo {
  const info: ProgramInfo = { path, go: false };
  try {
    const st = Deno.statSync(path);
    const mode = st.mode ?? 0;
    if (mode & 0o4000) info.privileged = "set-user-ID";
    else if ((mode & 0o2010) === 0o2010) info.privileged = "set-group-ID";
    else if (hasFileCapabilities(path)) info.privileged = "file-capability";
  } catch { /* unreadable: the exec will say so */ }
  let f: Deno.FsFile | undefined;
  try {
    f = Deno.openSync(path, { read: true });
    const head = readAt(f, 0, 64);
    // ELF, 64-bit, little-endian: what this x86_64 launcher can run.
    if (head.length < 64 || head[0] !== 0x7f || head[1] !== 0x45 || head[4] !== 2) return info;
    if (head[5] !== 1) return info;
    const h = new DataView(head.buffer, head.byteOffset, 64);
    const { interp, goNote } = programHeaders(f, h);
    info.dynamic = interp;
    info.go = goNote || sectionNames(f, h).includes(".go.buildinfo");
  } catch {
    /* not readable as ELF */
  } finally {
    f?.close();
  }
  return info;
}
