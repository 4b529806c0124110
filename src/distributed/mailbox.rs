//! Bulk-synchronous exchange between timely workers: in each step every worker sends
//! messages addressed to other workers and receives, once the step's messages have all been
//! delivered (timely's progress tracking says so), what was addressed to it.

use std::cell::RefCell;
use std::rc::Rc;

use timely::ExchangeData;
use timely::container::CapacityContainerBuilder;
use timely::dataflow::channels::pact::Exchange;
use timely::dataflow::operators::{Input, Operator, Probe};
use timely::dataflow::{InputHandle, ProbeHandle};
use timely::worker::Worker;

/// A message in flight: (destination worker, source worker, payload).
type Envelope<M> = (u32, u32, M);

/// Delivered messages with the step they were sent in.
type Inbox<M> = Rc<RefCell<Vec<(u64, Envelope<M>)>>>;

/// One worker's end of a step-by-step exchange of messages of type `M`.
pub(crate) struct Mailbox<M: ExchangeData + Clone> {
    input: InputHandle<u64, CapacityContainerBuilder<Vec<Envelope<M>>>>,
    probe: ProbeHandle<u64>,
    /// Delivered messages with the step they were sent in: a faster worker may already be
    /// sending the next step's messages while this one collects the current step's.
    inbox: Inbox<M>,
    index: u32,
    step: u64,
}

impl<M: ExchangeData + Clone> Mailbox<M> {
    /// Builds the exchange dataflow on `worker`. Every worker must build its mailboxes in the
    /// same order.
    pub fn new(worker: &mut Worker) -> Self {
        let mut input = InputHandle::new();
        let probe = ProbeHandle::new();
        let inbox: Inbox<M> = Rc::default();
        let sink = Rc::clone(&inbox);
        worker.dataflow::<u64, _, _>(|scope| {
            scope
                .input_from(&mut input)
                .container::<Vec<Envelope<M>>>()
                .unary::<CapacityContainerBuilder<Vec<()>>, _, _, _>(
                    Exchange::new(|m: &Envelope<M>| u64::from(m.0)),
                    "Mailbox",
                    move |_capability, _info| {
                        move |input, _output| {
                            input.for_each(|time, data| {
                                let t = *time.time();
                                sink.borrow_mut().extend(data.drain(..).map(|m| (t, m)));
                            });
                        }
                    },
                )
                .probe_with(&probe);
        });
        Self {
            input,
            probe,
            inbox,
            index: worker.index() as u32,
            step: 0,
        }
    }

    /// Sends `outgoing` (destination worker, message) and returns what the other workers sent
    /// to this one in the same step, as (source worker, message) sorted by source (messages
    /// of one source keep their order). Every worker must call it the same number of times.
    pub fn exchange(
        &mut self,
        worker: &mut Worker,
        outgoing: impl IntoIterator<Item = (usize, M)>,
    ) -> Vec<(usize, M)> {
        let now = self.step;
        for (dest, m) in outgoing {
            self.input.send((dest as u32, self.index, m));
        }
        self.step += 1;
        self.input.advance_to(self.step);
        while self.probe.less_than(self.input.time()) {
            worker.step();
        }
        let mut inbox = self.inbox.borrow_mut();
        let (current, later): (Vec<_>, Vec<_>) = inbox.drain(..).partition(|(t, _)| *t == now);
        *inbox = later;
        let mut got: Vec<(usize, M)> = current
            .into_iter()
            .map(|(_, (_, src, m))| (src as usize, m))
            .collect();
        got.sort_by_key(|(src, _)| *src);
        got
    }
}
