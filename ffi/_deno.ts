// The Deno backend: Deno.dlopen with synchronous symbols. Loaded only when
// the runtime is Deno.
import type {
  Backend,
  NativeCall,
  NativeKind,
  Pointer,
  SymbolTable,
} from "./_types.ts";

const KINDS: Record<NativeKind, Deno.NativeResultType> = {
  void: "void",
  i32: "i32",
  u32: "u32",
  i64: "i64",
  u64: "u64",
  isize: "isize",
  usize: "usize",
  ptr: "pointer",
  buffer: "buffer",
};
const WIDE = new Set<NativeKind>(["i64", "u64", "isize", "usize"]);

type DenoSymbol = (...args: unknown[]) => unknown;

let errnoView: Deno.UnsafePointerView | undefined;

/** Makes the Deno backend. */
export function denoBackend(): Backend {
  return {
    runtime: "deno",
    open(path: string, table: SymbolTable): Record<string, NativeCall> {
      const defs: Record<string, Deno.ForeignFunction> = {};
      for (const [name, fn] of Object.entries(table)) {
        defs[name] = {
          parameters: fn.args.map((k) => KINDS[k]) as Deno.NativeType[],
          result: KINDS[fn.returns],
        };
      }
      const symbols = Deno.dlopen(path, defs).symbols as Record<
        string,
        DenoSymbol
      >;
      const calls: Record<string, NativeCall> = {};
      for (const [name, fn] of Object.entries(table)) {
        const symbol = symbols[name];
        // 64-bit results may come back as bigint; every value we handle fits
        // a double, so hand out numbers.
        calls[name] = (WIDE.has(fn.returns)
          ? (...args: unknown[]) =>
            Number(symbol(...args))
          : symbol) as NativeCall;
      }
      return calls;
    },
    errno(): number {
      if (errnoView === undefined) {
        const lib = Deno.dlopen("libc.so.6", {
          __errno_location: { parameters: [], result: "pointer" },
        });
        errnoView = new Deno.UnsafePointerView(
          lib.symbols.__errno_location()!,
        );
      }
      return errnoView.getInt32(0);
    },
    addressOf(view: ArrayBufferView): number {
      return Number(Deno.UnsafePointer.value(
        Deno.UnsafePointer.of(view as ArrayBufferView<ArrayBuffer>),
      ));
    },
    pointerFrom(address: number): Pointer | null {
      return Deno.UnsafePointer.create(BigInt(address)) as Pointer | null;
    },
    addressOfPointer(pointer: Pointer | null): number {
      return Number(
        Deno.UnsafePointer.value(pointer as unknown as Deno.PointerValue),
      );
    },
    view(pointer: Pointer, byteLength: number): ArrayBuffer {
      return new Deno.UnsafePointerView(
        pointer as unknown as Deno.PointerObject,
      ).getArrayBuffer(byteLength);
    },
  };
}
