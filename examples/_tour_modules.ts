// Every module's part of the tour, in the order the tour visits them. A new
// module adds its file (tour_<module>.ts, exporting a TourModule) here.
import type { TourModule } from "./_tour.ts";
import { mq } from "./tour_mq.ts";
import { sem } from "./tour_sem.ts";
import { shm } from "./tour_shm.ts";
import { pipe } from "./tour_pipe.ts";
import { fifo } from "./tour_fifo.ts";
import { signal } from "./tour_signal.ts";
import { socket } from "./tour_socket.ts";

/** The modules the tour visits. */
export const MODULES: readonly TourModule[] = [
  mq,
  sem,
  shm,
  pipe,
  fifo,
  signal,
  socket,
];
