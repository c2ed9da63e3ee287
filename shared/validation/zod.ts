// The one zod every module here imports (`import * as z from '.../validation/zod.ts'`): zod/mini, with
// English messages.
//
// Why mini and not classic zod: classic zod attaches some forty methods to every schema it builds and
// brings its whole namespace along; on this project's cold start that was about 20 ms of evaluating
// schemas and zod itself (measured: the settings schema alone, classic 1.21 x a bare Hono start against
// 1.01 x with mini). Mini builds the same validators from plain functions, and a namespace import lets
// the bundler keep only what is used.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

// Mini ships without messages ("Invalid input"); the English ones name what was expected.
config(en());

export * from 'zod/mini';
