/**
 * Types of mri's ES module build (`lib/index.mjs`, the same code as its CommonJS main):
 * mri's own typings describe only the CommonJS entry.
 */
declare module 'mri/lib/index.mjs' {
  import mri from 'mri'
  export default mri
}
