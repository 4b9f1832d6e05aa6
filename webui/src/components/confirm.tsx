import { createContext, useCallback, useContext, useState, type ReactNode } from "react";
import { Modal } from "./ui";

export interface ConfirmOptions {
  title: string;
  message: ReactNode;
  confirmText?: string;
  danger?: boolean;
  /** the user must type this (e.g. the pool name) before confirming */
  typeToConfirm?: string;
}

type Confirm = (o: ConfirmOptions) => Promise<boolean>;
const Ctx = createContext<Confirm>(() => Promise.resolve(window.confirm("Are you sure?")));

/** Confirmation for destructive actions: `if (await confirm({...})) mutate()`. */
export function useConfirm(): Confirm {
  return useContext(Ctx);
}

export function ConfirmProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState<(ConfirmOptions & { resolve: (ok: boolean) => void }) | null>(null);
  const [typed, setTyped] = useState("");
  const confirm = useCallback<Confirm>((o) => new Promise((resolve) => {
    setTyped("");
    setState({ ...o, resolve });
  }), []);
  const close = (ok: boolean) => {
    state?.resolve(ok);
    setState(null);
  };
  const blocked = !!state?.typeToConfirm && typed !== state.typeToConfirm;
  return (
    <Ctx.Provider value={confirm}>
      {children}
      <Modal open={!!state} title={state?.title ?? ""} onClose={() => close(false)}>
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (!blocked) close(true);
          }}
        >
          <div className="confirm-message">{state?.message}</div>
          {state?.typeToConfirm && (
            <label className="field">
              <span className="field-label">
                Type <code>{state.typeToConfirm}</code> to confirm
              </span>
              <input autoFocus value={typed} onChange={(e) => setTyped(e.target.value)} aria-label="confirmation text" />
            </label>
          )}
          <div className="modal-actions">
            <button type="button" className="btn" onClick={() => close(false)} autoFocus={!state?.typeToConfirm}>
              Cancel
            </button>
            <button type="submit" className={`btn ${state?.danger ? "danger" : "primary"}`} disabled={blocked}>
              {state?.confirmText ?? "Confirm"}
            </button>
          </div>
        </form>
      </Modal>
    </Ctx.Provider>
  );
}
