import type { ReactNode } from "react";

/** Help text written for Python docstrings, shown as text: ``code`` and `code` become <code>,
 * reStructuredText roles (:func:`x`) lose their markers, **bold** is bold. */
export function richParts(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  const re = /(?::[a-z]+:)?``([^`]+)``|(?::[a-z]+:)?`([^`]+)`|\*\*([^*]+)\*\*/g;
  let last = 0;
  let m: RegExpExecArray | null;
  let i = 0;
  while ((m = re.exec(text))) {
    if (m.index > last) out.push(text.slice(last, m.index));
    if (m[3] !== undefined) out.push(<b key={i++}>{m[3]}</b>);
    else out.push(<code key={i++}>{(m[1] ?? m[2])!.replace(/^~/, "")}</code>);
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

export function RichText({ text }: { text: string | null | undefined }) {
  return <>{richParts(text ?? "")}</>;
}
