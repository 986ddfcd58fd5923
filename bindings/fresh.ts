/**
 * A typed array that is not zero-filled first (Node only: Buffer.allocUnsafeSlow), for an output that a kernel
 * writes in full before anyone reads it. A typed array's own allocation is a calloc, a memset of every reused
 * heap page: about a tenth of a private forward's time when every kernel output paid for it.
 */
export function unzeroed<T>(ctor: (new (buf: ArrayBuffer, offset: number, len: number) => T) & { BYTES_PER_ELEMENT: number }, len: number): T {
  return new ctor(Buffer.allocUnsafeSlow(len * ctor.BYTES_PER_ELEMENT).buffer as ArrayBuffer, 0, len);
}
